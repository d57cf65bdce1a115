/**
 * Dispatch is safe from JavaScript's object model: a command word that names a member of
 * Object.prototype, of CommandHandler, or of the handler class itself never reaches that
 * member, on any protocol (telnet text, RESP2 as raw bytes and through ioredis, RESP3 after
 * HELLO 3). Each is an unknown command, nothing about the member leaks through `help`,
 * COMMAND INFO or COMMAND DOCS, `stats` gains no entry for it, and the server keeps
 * answering. Commands that are deliberately *named* like those members work and count.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { Application, CommandHandler, parameter, status } from "../../src/index.js";
import { connectRedis } from "../redis-support.js";
import type { RespValue } from "../resp-decoder.js";
import { type Running, type TextClient, useTestBed } from "../support.js";
import { RawClients, resp } from "../wire.js";

/** Set by the hooks and the helper below if dispatch ever reaches them as commands. */
const reached: string[] = [];

class Shop extends CommandHandler {
  /** A plain method: callable from other methods, never from the wire. */
  helper(): string {
    reached.push("helper");
    return "helper ran";
  }

  override initialize(): void {}

  override prepare(): void {}

  override onFinish(): void {}

  @parameter()
  ping() {
    return status("PONG");
  }

  @parameter({ name: "word" })
  echo(): string {
    return this.getArgument("word");
  }
}

/**
 * Members of Object.prototype, of CommandHandler and of Shop. `command` is left out on
 * purpose: COMMAND is a real (Redis compatibility) command, checked on its own below.
 */
const MEMBERS = [
  "constructor",
  "__proto__",
  "prototype",
  "toString",
  "toLocaleString",
  "valueOf",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "__defineGetter__",
  "__lookupGetter__",
  "prepare",
  "onFinish",
  "initialize",
  "write",
  "getArgument",
  "getArguments",
  "getBuffer",
  "getBuffers",
  "skipReply",
  "finished",
  "_replies",
  "_finished",
  "_skipReply",
  "application",
  "connection",
  "server",
  "logger",
  "signal",
  "then",
  "helper",
];
const SHOUTED = ["CONSTRUCTOR", "__PROTO__", "PROTOTYPE", "ToString", "VALUEOF", "HasOwnProperty", "PREPARE", "Write", "THEN", "Signal"];
const NAMES = [...MEMBERS, ...SHOUTED];
/**
 * ioredis 6 looks up its own argument and reply transformers by command name in plain
 * objects (node_modules/ioredis/built/Command.js, `Command._transformer.reply[this.name]`),
 * so it fails on its side, before or after retopy's correct reply, for the names of
 * Object.prototype's methods. Those go through raw RESP above; ioredis sends the rest.
 */
const IOREDIS_NAMES = NAMES.filter((name) => !(name in Object.prototype) || name === "constructor" || name === "toString");

const unknown = (name: string) => `ERR unknown command '${name}'`;
const errorOf = (name: string): RespValue => ({ t: "error", v: unknown(name) });
/** The lines of `stats`: sent with a PING behind it, read up to the PONG (bounded). */
async function statsLines(client: TextClient): Promise<string[]> {
  client.write("stats\r\nping\r\n");
  const lines: string[] = [];
  for (let i = 0; i < 500; i++) {
    const line = await client.readLine();
    if (line === "+PONG") return lines;
    lines.push(line);
  }
  throw new Error(`no PONG after stats: ${JSON.stringify(lines)}`);
}

/** What a reply must never show: a function's source, an object's tag, a prototype. */
const LEAK = /native code|\[object |function\s*\w*\s*\(|=>|\{ \[/i;

describe("dispatch never reaches a JavaScript member", () => {
  const bed = useTestBed();
  const raw = new RawClients();
  const redisClients: Redis[] = [];
  let running: Running;
  let app: Application;

  before(async () => {
    app = new Application([Shop]);
    running = await bed.start(app);
  });

  after(() => {
    raw.destroyAll();
    for (const client of redisClients) client.disconnect();
  });

  async function redis(protocol: 2 | 3): Promise<Redis> {
    const client = await connectRedis(running.port, { protocol });
    redisClients.push(client);
    return client;
  }

  it("text protocol: each member, bare or with arguments, in any case, is an unknown command", async () => {
    const client = await bed.open(running.port);
    assert.equal(await client.command("ping"), "+PONG"); // the handshake is done: the next lines are commands
    client.write(NAMES.map((name) => `${name}\r\n${name} x y\r\n`).join(""));
    const lines = await client.readLines(NAMES.length * 2);
    assert.deepEqual(
      lines,
      NAMES.flatMap((name) => [`-${unknown(name)}`, `-${unknown(name)}`]),
    );
    assert.equal(await client.command("echo still-here"), "still-here");
    assert.deepEqual(reached, []);
  });

  it("RESP2 as raw multibulk bytes: each member is an unknown command, then PING answers", async () => {
    const client = await raw.open(running.port);
    client.write(Buffer.concat([...NAMES.map((name) => resp(name, "x")), resp("ping")]));
    const replies = await client.replies(NAMES.length + 1, 2);
    assert.deepEqual(replies, [...NAMES.map(errorOf), { t: "simple", v: "PONG" }]);
    assert.deepEqual(reached, []);
  });

  it("RESP3 after HELLO 3 as raw bytes: each member is an unknown command, then PING answers", async () => {
    const client = await raw.open(running.port);
    client.write(Buffer.concat([resp("HELLO", "3"), ...NAMES.map((name) => resp(name)), resp("ping")]));
    const [hello, ...replies] = await client.replies(NAMES.length + 2, 3);
    assert.equal(hello?.t, "map");
    assert.deepEqual(replies, [...NAMES.map(errorOf), { t: "simple", v: "PONG" }]);
  });

  for (const protocol of [2, 3] as const) {
    it(`ioredis call() over RESP${protocol}: each member rejects with the unknown command error`, async () => {
      const client = await redis(protocol);
      assert.ok(IOREDIS_NAMES.length > 30);
      for (const name of IOREDIS_NAMES) {
        await assert.rejects(client.call(name, "x"), (error: Error) => {
          assert.equal(error.name, "ReplyError");
          assert.equal(error.message, unknown(name));
          return true;
        });
      }
      assert.equal(await client.call("echo", "after"), "after");
      assert.equal(await client.ping(), "PONG");
    });
  }

  it("`help <member>` is an unknown command error, and nothing about the member leaks", async () => {
    const client = await bed.open(running.port);
    assert.equal(await client.command("ping"), "+PONG");
    client.write(NAMES.map((name) => `help ${name}\r\n`).join(""));
    const lines = await client.readLines(NAMES.length);
    assert.deepEqual(
      lines,
      NAMES.map((name) => `-${unknown(name)}`),
    );
    assert.doesNotMatch(lines.join("\n"), LEAK);
  });

  it("COMMAND INFO and COMMAND DOCS know nothing of members (RESP2 and RESP3, raw bytes)", async () => {
    const resp2 = await raw.open(running.port);
    resp2.write(Buffer.concat([resp("COMMAND", "INFO", ...NAMES), resp("COMMAND", "DOCS", ...NAMES), resp("ping")]));
    assert.deepEqual(await resp2.replies(3, 2), [
      { t: "array", v: NAMES.map(() => ({ t: "null" })) },
      { t: "array", v: [] },
      { t: "simple", v: "PONG" },
    ]);
    assert.doesNotMatch(resp2.text, LEAK);

    const resp3 = await raw.open(running.port);
    resp3.write(Buffer.concat([resp("HELLO", "3"), resp("COMMAND", "INFO", ...NAMES), resp("COMMAND", "DOCS", ...NAMES), resp("ping")]));
    const [, info, docs, pong] = await resp3.replies(4, 3);
    assert.deepEqual(info, { t: "array", v: NAMES.map(() => ({ t: "null" })) });
    assert.deepEqual(docs, { t: "map", v: [] });
    assert.deepEqual(pong, { t: "simple", v: "PONG" });
  });

  it("COMMAND INFO over the text protocol: one (nil) per member, DOCS is empty", async () => {
    const client = await bed.open(running.port);
    assert.equal(await client.command("ping"), "+PONG");
    client.send(`COMMAND INFO ${NAMES.join(" ")}`);
    assert.deepEqual(
      await client.readLines(NAMES.length),
      NAMES.map(() => "(nil)"),
    );
    assert.equal(await client.command(`COMMAND DOCS ${NAMES.join(" ")}`), "(empty)");
    assert.equal(await client.command("ping"), "+PONG");
  });

  it("`command` is Redis's COMMAND (the table), never the handler's `command` getter", async () => {
    const client = await raw.open(running.port);
    client.write(Buffer.concat([resp("command", "count"), resp("COMMAND", "INFO", "command")]));
    const [count, info] = await client.replies(2, 2);
    assert.deepEqual(count, { t: "int", v: BigInt(app.commands.length) });
    assert.equal(info?.t, "array");
    const entry = (info as { v: RespValue[] }).v[0] as { t: string; v: RespValue[] };
    assert.deepEqual(entry.v[0], { t: "bulk", v: Buffer.from("command") });
  });

  it("stats gains no entry for members: unknown commands count as errors only", async () => {
    const mounted = new Set(app.commands.map((definition) => definition.name));
    const before = running.server.stats();
    const client = await bed.open(running.port);
    assert.equal(await client.command("ping"), "+PONG");
    client.write(NAMES.map((name) => `${name}\r\n`).join(""));
    await client.readLines(NAMES.length);
    const stats = running.server.stats();
    assert.equal(stats.errorsTotal - before.errorsTotal, NAMES.length);
    assert.equal(stats.commandsTotal - before.commandsTotal, 1, "only the ping ran");
    for (const [name, count] of Object.entries(stats.commandCounts)) {
      assert.ok(mounted.has(name), `stats counts '${name}', which is not a mounted command`);
      assert.equal(typeof count, "number", `${name}: ${String(count)}`);
    }
    for (const name of NAMES) assert.ok(!Object.hasOwn(stats.commandCounts, name.toLowerCase()), name);

    // The `stats` command lists mounted commands and totals only, each with a number.
    const lines = await statsLines(client);
    for (const line of lines) assert.match(line, /^[a-z_][\w.:-]*: \d+$/, line);
    const keys = new Set(lines.map((line) => line.slice(0, line.indexOf(":"))));
    for (const name of mounted) assert.ok(keys.has(name), `stats does not list ${name}`);
    for (const name of NAMES) assert.ok(!keys.has(name) && !keys.has(name.toLowerCase()), `stats lists ${name}`);
  });

  it("keeps serving new connections afterwards", async () => {
    const client = await bed.open(running.port);
    assert.equal(await client.command("echo fresh"), "fresh");
    assert.equal(running.server.supervisor.getSnapshot().status, "active");
    assert.deepEqual(reached, []);
  });
});

describe("commands deliberately named after Object.prototype members", () => {
  const bed = useTestBed();
  const NAMED = ["constructor", "__proto__", "tostring", "valueof", "hasownproperty", "isprototypeof"];

  function namedApp(): Application {
    const app = new Application([]);
    for (const name of NAMED) app.command(name, {}, () => `ran ${name}`);
    return app.command("ping", {}, () => status("PONG"));
  }

  it("each dispatches to its own function, in any case", async () => {
    const running = await bed.start(namedApp());
    const client = await bed.open(running.port);
    assert.equal(await client.command("ping"), "+PONG");
    client.write(NAMED.map((name) => `${name}\r\n${name.toUpperCase()}\r\n`).join(""));
    assert.deepEqual(
      await client.readLines(NAMED.length * 2),
      NAMED.flatMap((name) => [`ran ${name}`, `ran ${name}`]),
    );
  });

  // Counts once lived in plain objects: `constructor` read as Object and `__proto__` was lost.
  it(
    "`stats` and server.stats() count each of them as a number, from 0",
    async () => {
      const running = await bed.start(namedApp());
      const client = await bed.open(running.port);
      assert.equal(await client.command("ping"), "+PONG");
      // Before any of them ran: each is listed with 0.
      const before = await statsLines(client);
      for (const name of NAMED) assert.ok(before.includes(`${name}: 0`), `${name} before: ${JSON.stringify(before)}`);

      client.write(NAMED.map((name) => `${name}\r\n`).join(""));
      await client.readLines(NAMED.length);
      const counts = running.server.stats().commandCounts;
      for (const name of NAMED) {
        assert.ok(Object.hasOwn(counts, name), `no own count for ${name}`);
        assert.equal(counts[name], 1, `${name}: ${String(counts[name])}`);
      }
      const afterwards = await statsLines(client);
      for (const name of NAMED) assert.ok(afterwards.includes(`${name}: 1`), `${name} after: ${JSON.stringify(afterwards)}`);
    },
  );
});
