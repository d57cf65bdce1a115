/**
 * Every accepted command gets exactly one reply, in order, whatever its code throws: for any
 * thrown or rejected value (objects, throwing getters, proxies whose every trap throws,
 * symbols, cycles, CommandErrors with a message or code that is not a string), thrown from
 * any step (initialize, prepare, the command, onFinish; sync, a rejected promise, a thenable
 * whose `then` throws), mixed with good commands, over text and RESP on a real socket.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Application, CommandError, CommandHandler, parameter } from "../../src/index.js";
import { useTestBed } from "../support.js";
import { ProcessFaults, RawClients, renderReply, resp } from "../wire.js";

type Step = "initialize" | "prepare" | "command" | "onFinish";
type Way = "throw" | "reject" | "thenable";
interface Fault {
  readonly step: Step;
  readonly way: Way;
  readonly make: () => unknown;
}

const trap = () => {
  throw new Error("trap");
};
/** Thrown values that break whatever looks at them. */
const hostileValues: readonly (() => unknown)[] = [
  () => new Proxy({}, { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap }),
  () => new Proxy(new CommandError("x"), { get: trap }),
  () => Object.defineProperty(new CommandError("x"), "message", { value: 42 }),
  () => Object.defineProperty(new CommandError("x"), "message", { get: trap }),
  () => Object.defineProperty(new CommandError("x"), "code", { value: { toString: trap } }),
  () => Object.defineProperty(new CommandError("x"), "code", { get: trap }),
  () => Symbol("thrown"),
  () => {
    const cycle: Record<string, unknown> = { name: "cycle" };
    cycle.self = cycle;
    return cycle;
  },
  () => ({ toString: trap, [Symbol.toPrimitive]: trap }),
  () => Object.create(null),
  () => Object.defineProperty(new Error("x"), "stack", { get: trap }),
  () => null,
  () => undefined,
  () => 0n,
  () => new CommandError("plain refusal", "WRONGTYPE"),
];

/** What the next `fault` command does; the test sets it before each write. */
const faults: Fault[] = [];

function act(fault: Fault | undefined, step: Step): Promise<void> | undefined {
  if (!fault || fault.step !== step) return undefined;
  const value = fault.make();
  if (fault.way === "throw") throw value;
  if (fault.way === "reject") return Promise.reject(value);
  return { then: trap } as unknown as Promise<void>; // a thenable whose then throws
}

class Faulty extends CommandHandler {
  #fault: Fault | undefined;

  override initialize(): Promise<void> | undefined {
    if (this.command.name !== "fault") return undefined;
    this.#fault = faults[Number(this.getArgument("index"))];
    return act(this.#fault, "initialize");
  }

  override prepare(): Promise<void> | undefined {
    return act(this.#fault, "prepare");
  }

  override onFinish(): Promise<void> | undefined {
    return act(this.#fault, "onFinish");
  }

  @parameter({ name: "index" })
  fault(): unknown {
    return act(this.#fault, "command") ?? "survived";
  }

  /** Pushes a value whose encoding fails halfway (a getter that throws inside an object). */
  @parameter()
  badpush(): string {
    this.connection.push("message", "news", { ok: 1, get broken(): never { throw new Error("getter"); } } as never);
    return "pushed";
  }

  @parameter({ name: "word" })
  echo(): string {
    return this.getArgument("word");
  }
}

const fault: fc.Arbitrary<Fault> = fc.record({
  step: fc.constantFrom<Step>("initialize", "prepare", "command", "onFinish"),
  way: fc.constantFrom<Way>("throw", "reject", "thenable"),
  make: fc.constantFrom(...hostileValues),
});

describe("exactly one reply per command, whatever is thrown", () => {
  const bed = useTestBed();
  const clients = new RawClients();

  it("a push that fails to encode halfway leaves no half frame: the command fails, later replies are intact", async () => {
    const port = await bed.serve(new Application([Faulty]), { handshake: "none" });
    const client = await clients.open(port);
    client.write(Buffer.concat([resp("HELLO", "3"), resp("badpush"), resp("echo", "after")]));
    const [, failed, after] = (await client.nextReplies(3, 3)).map(renderReply);
    assert.match(failed!, /^-ERR Internal Server Error/);
    assert.equal(after, "after");
    client.destroy();
  });

  it("holds for any mix of faulty and good commands, text and RESP", async () => {
    const faultsSeen = new ProcessFaults().start();
    const port = await bed.serve(new Application([Faulty]), { handshake: "none" });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.option(fault, { nil: undefined }), { minLength: 1, maxLength: 8 }), fc.boolean(), async (plan, overResp) => {
          faults.length = 0;
          const client = await clients.open(port);
          try {
            const words = plan.map((f, i) => {
              if (!f) return ["echo", `w${i}`];
              faults.push(f);
              return ["fault", String(faults.length - 1)];
            });
            if (overResp) {
              client.write(Buffer.concat(words.map((args) => resp(...args))));
              const replies = (await client.nextReplies(words.length, 2, 5000)).map(renderReply);
              words.forEach((args, i) => {
                if (args[0] === "echo") assert.equal(replies[i], args[1]);
                else assert.ok(replies[i] === "survived" || replies[i]!.startsWith("-"), replies[i]);
              });
            } else {
              client.write(words.map((args) => `${args.join(" ")}\r\n`).join(""));
              const lines = await client.lines(words.length, 5000);
              words.forEach((args, i) => {
                if (args[0] === "echo") assert.equal(lines[i], args[1]);
                else assert.ok(lines[i] === "survived" || lines[i]!.startsWith("-"), lines[i]);
              });
            }
            // Nothing more comes: a reply too many would fail the next command's check too.
            client.write(overResp ? resp("echo", "last") : "echo last\r\n");
            if (overResp) assert.deepEqual((await client.nextReplies(1, 2)).map(renderReply), ["last"]);
            else assert.deepEqual(await client.lines(1), ["last"]);
          } finally {
            client.destroy();
          }
        }),
        { numRuns: 150 },
      );
      assert.equal(faultsSeen.take().count, 0, faultsSeen.describe());
    } finally {
      faultsSeen.stop();
      clients.destroyAll();
    }
  });
});
