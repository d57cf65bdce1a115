/**
 * execute(): a command's lifecycle on its handler, directly (no socket, no runner). The
 * order of the hooks, the sync fast path, and what becomes the outcome when a step fails.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Application, CommandHandler, parameter } from "../src/index.js";
import { execute, Failure, isThenable } from "../src/command-lifecycle.js";
import type { CommandDefinition, HandlerContext } from "../src/handler.js";

type Hooks = { initialize?: "sync" | "async"; prepare?: "sync" | "async"; command?: "sync" | "async" | "throw"; onFinish?: "sync" | "throw" | "reject" };

function build(hooks: Hooks, log: string[]): { definition: CommandDefinition; handler: CommandHandler } {
  // `any`: each step returns what its own hook is typed to return (void, a promise, a value).
  const step = (name: string, how: string | undefined, value?: unknown): any => {
    log.push(name);
    if (how === "async") return Promise.resolve(value);
    if (how === "throw") throw new Error(`${name} failed`);
    if (how === "reject") return Promise.reject(new Error(`${name} failed`));
    return value;
  };
  class Probe extends CommandHandler {
    override initialize(): void | Promise<void> {
      return step("initialize", hooks.initialize);
    }
    override prepare(): void | Promise<void> {
      return step("prepare", hooks.prepare);
    }
    @parameter()
    probe() {
      return step("command", hooks.command, "done");
    }
    override onFinish(): void | Promise<void> {
      return step("onFinish", hooks.onFinish);
    }
  }
  const application = new Application([Probe]);
  const definition = application.lookup("probe")!;
  const context = { application, definition, argv: ["probe"], values: [], connection: null, server: null } as unknown as HandlerContext;
  return { definition, handler: new Probe(context) };
}

/** An outcome (a value, or a Failure), settled, as `{ value, failed }` for comparisons. */
async function outcomeOf(result: unknown): Promise<{ value: unknown; failed: boolean }> {
  const settled: unknown = await result;
  return settled instanceof Failure ? { value: settled.error, failed: true } : { value: settled, failed: false };
}

describe("execute()", () => {
  it("a handler with no hooks runs straight through: its value, finished, or its error as a Failure", () => {
    class Plain extends CommandHandler {
      @parameter()
      plain(): string {
        return "plain";
      }
      @parameter()
      broken(): string {
        throw new Error("broken");
      }
    }
    const application = new Application([Plain]);
    for (const [name, expected] of [["plain", "plain"], ["broken", "broken"]] as const) {
      const definition = application.lookup(name)!;
      const context = { application, definition, argv: [name], values: [], connection: null, server: null } as unknown as HandlerContext;
      const handler = new Plain(context);
      const result = execute(definition, handler, { stopped: false });
      if (name === "plain") assert.equal(result, expected);
      else assert.equal(((result as Failure).error as Error).message, expected);
      assert.equal(handler.finished, true);
    }
  });

  it("runs the hooks in Tornado's order and stays synchronous when every step is", () => {
    const log: string[] = [];
    const { definition, handler } = build({}, log);
    const result = execute(definition, handler, { stopped: false });
    assert.equal(isThenable(result), false);
    assert.equal(result, "done", "a success is the value itself: nothing is allocated for it");
    assert.deepEqual(log, ["initialize", "prepare", "command", "onFinish"]);
    assert.equal(handler.finished, true);
  });

  it("goes async from the first async step on, in the same order", async () => {
    for (const async of ["initialize", "prepare", "command"] as const) {
      const log: string[] = [];
      const { definition, handler } = build({ [async]: "async" }, log);
      const result = execute(definition, handler, { stopped: false });
      assert.equal(isThenable(result), true, async);
      assert.deepEqual(await outcomeOf(result), { value: "done", failed: false });
      assert.deepEqual(log, ["initialize", "prepare", "command", "onFinish"]);
    }
  });

  it("after an async prepare, does not start the command for a client that is gone", async () => {
    const log: string[] = [];
    const { definition, handler } = build({ prepare: "async" }, log);
    const state = { stopped: false };
    const result = execute(definition, handler, state);
    state.stopped = true;
    assert.deepEqual(await outcomeOf(result), { value: undefined, failed: false });
    assert.deepEqual(log, ["initialize", "prepare", "onFinish"]);
  });

  it("a failing onFinish turns a success into its error, and never hides the command's own error", async () => {
    for (const how of ["throw", "reject"] as const) {
      const ok = build({ onFinish: how }, []);
      const after = await outcomeOf(execute(ok.definition, ok.handler, { stopped: false }));
      assert.equal(after.failed, true);
      assert.equal((after.value as Error).message, "onFinish failed");
      const bad = build({ command: "throw", onFinish: how }, []);
      const kept = await outcomeOf(execute(bad.definition, bad.handler, { stopped: false }));
      assert.equal((kept.value as Error).message, "command failed");
    }
  });

  it("hands only the async part to the limit", async () => {
    const limited: unknown[] = [];
    const limit = (work: Promise<unknown>) => {
      limited.push(work);
      return work.then((value) => `limited ${String(value)}`);
    };
    const sync = build({}, []);
    assert.equal(execute(sync.definition, sync.handler, { stopped: false }, limit), "done");
    assert.equal(limited.length, 0);
    const async = build({ command: "async" }, []);
    assert.deepEqual(await outcomeOf(execute(async.definition, async.handler, { stopped: false }, limit)), { value: "limited done", failed: false });
    assert.equal(limited.length, 1);
  });
});
