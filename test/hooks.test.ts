/**
 * Application-wide hooks (`app.addHook`), over real TCP with real clients: the order they
 * run in, async hooks awaited in order, what a client gets and what is logged when a hook
 * throws, preCommand refusals (a rate limit), and pipelines whose replies hooks can neither
 * reorder nor lose.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { Application, CommandError, type ConnectionInfo, status } from "../src/index.js";
import { connectRedis } from "./redis-support.js";
import { eventually, useTestBed } from "./support.js";

/** A pino logger whose JSON lines land in `lines`. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

function kvApp(): Application {
  const store = new Map<string, string>();
  const app = new Application();
  app.command("set", { params: ["key", "value"] }, (h) => {
    store.set(h.getArgument("key"), h.getArgument("value"));
  });
  app.command("get", { params: ["key"] }, (h) => store.get(h.getArgument("key")) ?? null);
  app.command("slowecho", { params: ["value"] }, async (h) => {
    await sleep(Number(h.getArgument("value")) % 7);
    return h.getArgument("value");
  });
  app.command("boom", {}, () => {
    throw new Error("the command broke");
  });
  return app;
}

describe("hooks: order and awaiting", () => {
  const bed = useTestBed();

  it("onConnect, preCommand, onResponse and onClose run in order, each kind in registration order, async ones awaited", async () => {
    const app = kvApp();
    const events: string[] = [];
    app.addHook("onConnect", async () => {
      events.push("connect 1 start");
      await sleep(20);
      events.push("connect 1 end");
    });
    app.addHook("onConnect", () => void events.push("connect 2"));
    app.addHook("preCommand", async ({ command }) => {
      events.push(`pre 1 ${command} start`);
      await sleep(5);
      events.push(`pre 1 ${command} end`);
    });
    app.addHook("preCommand", ({ command }) => void events.push(`pre 2 ${command}`));
    app.addHook("onResponse", async ({ command, outcome, durationMs }) => {
      assert.ok(durationMs >= 0 && Number.isFinite(durationMs));
      await sleep(5);
      events.push(`response 1 ${command} ${outcome}`);
    });
    app.addHook("onResponse", ({ command }) => void events.push(`response 2 ${command}`));
    let closed!: () => void;
    const gone = new Promise<void>((resolve) => (closed = resolve));
    app.addHook("onClose", async (_connection, reason) => {
      await sleep(5);
      events.push(`close 1 ${reason}`);
    });
    app.addHook("onClose", (_connection, reason) => {
      events.push(`close 2 ${reason}`);
      closed();
    });
    const port = await bed.serve(app);
    const client = await bed.open(port);
    assert.equal(await client.command("set a 1"), "+OK");
    assert.equal(await client.command("get a"), "1");
    client.send("quit");
    await gone;
    assert.deepEqual(events, [
      "connect 1 start",
      "connect 1 end",
      "connect 2",
      "pre 1 set start",
      "pre 1 set end",
      "pre 2 set",
      "response 1 set ok",
      "response 2 set",
      "pre 1 get start",
      "pre 1 get end",
      "pre 2 get",
      "response 1 get ok",
      "response 2 get",
      // QUIT is a command too.
      "pre 1 quit start",
      "pre 1 quit end",
      "pre 2 quit",
      "response 1 quit ok",
      "response 2 quit",
      "close 1 quit",
      "close 2 quit",
    ]);
  });

  it("commands sent before an async onConnect finishes wait for it, and see what it set", async () => {
    const app = new Application();
    const tenants = new WeakMap<ConnectionInfo, string>();
    app.addHook("onConnect", async (connection) => {
      await sleep(30);
      tenants.set(connection, "acme");
    });
    app.command("tenant", {}, (h) => tenants.get(h.connection) ?? "none yet");
    const port = await bed.serve(app);
    const redis = await connectRedis(port);
    try {
      assert.equal(await redis.call("tenant"), "acme");
    } finally {
      redis.disconnect();
    }
  });

  it("onResponse sees the outcome and error of each command: ok, error, rejected", async () => {
    const app = kvApp();
    const seen: string[] = [];
    app.addHook("onResponse", ({ command, outcome, error }) => {
      seen.push(`${command} ${outcome} ${error instanceof Error ? error.message : String(error)}`);
    });
    const port = await bed.serve(app);
    const redis = await connectRedis(port);
    try {
      await redis.call("set", "k", "v");
      await assert.rejects(redis.call("boom"), /Internal Server Error/);
      await assert.rejects(redis.call("set", "k"), /wrong number of arguments/);
    } finally {
      redis.disconnect();
    }
    // ioredis opens with its own commands (HELLO, INFO, CLIENT): only ours are compared.
    const ours = seen.filter((line) => /^(set|boom) /.test(line));
    assert.deepEqual(ours, [
      "set ok undefined",
      "boom error the command broke",
      "set rejected wrong number of arguments for 'set': missing argument 'value' (usage: set key value)",
    ]);
  });
});

describe("hooks: refusals and failures", () => {
  const bed = useTestBed();

  it("a preCommand hook that throws a CommandError refuses the command: its reply, the command never runs, counted rejected", async () => {
    const app = new Application();
    let runs = 0;
    app.command("work", {}, () => {
      runs++;
      return status("DONE");
    });
    // A rate limit: 3 commands per connection, then a refusal.
    const used = new WeakMap<ConnectionInfo, number>();
    app.addHook("preCommand", ({ connection, command }) => {
      if (command !== "work") return;
      const count = (used.get(connection) ?? 0) + 1;
      used.set(connection, count);
      if (count > 3) throw new CommandError("too many requests, slow down", "RATELIMIT");
    });
    const port = await bed.serve(app);
    const redis = await connectRedis(port);
    try {
      const replies = await redis.pipeline(Array.from({ length: 5 }, () => ["call", "work"])).exec();
      assert.deepEqual(
        replies!.map(([error, value]) => (error ? error.message : value)),
        ["DONE", "DONE", "DONE", "RATELIMIT too many requests, slow down", "RATELIMIT too many requests, slow down"],
      );
      assert.equal(runs, 3, "a refused command never runs");
      const info = String(await redis.call("info", "commandstats"));
      assert.match(info, /cmdstat_work:calls=3,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=2,failed_calls=0/);
    } finally {
      redis.disconnect();
    }
    // Another connection has its own budget.
    const other = await connectRedis(port);
    try {
      assert.equal(await other.call("work"), "DONE");
    } finally {
      other.disconnect();
    }
  });

  it("a preCommand hook that throws anything else: the internal error reply, logged with the hook's name, onError told", async () => {
    const { logger, lines } = capturedLogger();
    const app = kvApp();
    const errors: string[] = [];
    app.addHook("preCommand", async ({ command }) => {
      if (command === "get") throw new TypeError("the hook broke");
    });
    app.addHook("onError", (error, context) => {
      errors.push(`${context.hook} ${context.command} ${(error as Error).message}`);
    });
    const port = await bed.serve(app, { logger });
    const client = await bed.open(port);
    assert.equal(await client.command("get a"), "-ERR Internal Server Error");
    assert.equal(await client.command("set a 1"), "+OK", "the connection keeps serving");
    assert.deepEqual(errors, ["preCommand get the hook broke"]);
    const logged = lines.find((line) => line.msg === "hook failed");
    assert.ok(logged, "the failure is logged");
    assert.equal(logged.hook, "preCommand");
    assert.equal(logged.command, "get");
    assert.equal(logged.level, 50, "at error level");
    assert.match(String((logged.err as { message: string }).message), /the hook broke/);
  });

  it("an onResponse hook that throws or rejects changes no reply: logged and reported to onError", async () => {
    const { logger, lines } = capturedLogger();
    const app = kvApp();
    const errors: string[] = [];
    app.addHook("onResponse", ({ command }) => {
      if (command === "set") throw new Error("sync response hook broke");
    });
    app.addHook("onResponse", async ({ command }) => {
      if (command === "get") throw new Error("async response hook broke");
    });
    app.addHook("onError", (error, context) => void errors.push(`${context.hook ?? "command"} ${(error as Error).message}`));
    const port = await bed.serve(app, { logger });
    const redis = await connectRedis(port);
    try {
      assert.equal(await redis.call("set", "a", "1"), "OK");
      assert.equal(await redis.call("get", "a"), "1");
      await assert.rejects(redis.call("boom"), /Internal Server Error/);
    } finally {
      redis.disconnect();
    }
    assert.deepEqual(errors, ["onResponse sync response hook broke", "onResponse async response hook broke", "command the command broke"]);
    assert.equal(lines.filter((line) => line.msg === "hook failed" && line.hook === "onResponse").length, 2);
  });

  it("an onError hook that throws is only logged (no loop, no reply change)", async () => {
    const { logger, lines } = capturedLogger();
    const app = kvApp();
    app.addHook("onError", () => {
      throw new Error("the error hook broke");
    });
    const port = await bed.serve(app, { logger });
    const client = await bed.open(port);
    assert.equal(await client.command("boom"), "-ERR Internal Server Error");
    assert.equal(await client.command("set a 1"), "+OK");
    assert.ok(lines.some((line) => line.msg === "hook failed" && line.hook === "onError"));
  });

  it("an onConnect hook that throws a CommandError: the client reads it and is closed; onClose says refused", async () => {
    const app = kvApp();
    const reasons: string[] = [];
    app.addHook("onConnect", async (connection) => {
      if (connection.remoteAddress === "127.0.0.1") throw new CommandError("not from this address", "DENIED");
    });
    app.addHook("onClose", (_connection, reason) => void reasons.push(reason));
    let ran = 0;
    app.addHook("preCommand", () => void ran++);
    const port = await bed.serve(app);
    const client = await bed.open(port);
    client.send("set a 1"); // sent before the refusal: never run
    assert.equal(await client.readLine(), "-DENIED not from this address");
    await client.closed();
    await eventually(() => reasons.length === 1);
    assert.deepEqual(reasons, ["refused"]);
    assert.equal(ran, 0, "no command of a refused client runs");
  });

  it("an onConnect hook that throws anything else: logged, the internal error, closed", async () => {
    const { logger, lines } = capturedLogger();
    const app = kvApp();
    app.addHook("onConnect", () => {
      throw new Error("the connect hook broke");
    });
    const port = await bed.serve(app, { logger });
    const client = await bed.open(port);
    assert.equal(await client.readLine(), "-ERR Internal Server Error");
    await client.closed();
    assert.ok(lines.some((line) => line.msg === "hook failed" && line.hook === "onConnect"));
  });

  it("addHook refuses an unknown hook name and a hook that is not a function", () => {
    const app = new Application();
    assert.throws(() => app.addHook("onRequest" as "onConnect", () => undefined), /unknown hook 'onRequest'/);
    assert.throws(() => app.addHook("onClose", "nope" as never), /the onClose hook must be a function/);
  });
});

describe("hooks: pipelines", () => {
  const bed = useTestBed();

  it("async hooks of random delays never reorder or lose a reply of a 300-command pipeline", async () => {
    const app = kvApp();
    let responses = 0;
    app.addHook("preCommand", async ({ argv }) => {
      const n = Number(argv[1] ?? 0);
      if (n % 3 === 0) await sleep(n % 4);
    });
    app.addHook("onResponse", async ({ argv }) => {
      responses++;
      if (Number(argv[1] ?? 0) % 5 === 0) await sleep(1);
    });
    const port = await bed.serve(app);
    const redis = await connectRedis(port);
    try {
      const values = Array.from({ length: 300 }, (_, i) => String(i));
      const pipeline = redis.pipeline();
      for (const value of values) {
        if (Number(value) % 2 === 0) pipeline.call("slowecho", value);
        else pipeline.call("set", value, value).call("get", value);
      }
      const replies = (await pipeline.exec())!.map(([error, value]) => (error ? `error ${error.message}` : value));
      const expected = values.flatMap((value) => (Number(value) % 2 === 0 ? [value] : ["OK", value]));
      assert.deepEqual(replies, expected);
      await eventually(() => responses >= expected.length);
    } finally {
      redis.disconnect();
    }
  });
});
