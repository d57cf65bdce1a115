/**
 * `app.inject()`: commands through a real Connection with an in-memory socket. Each result
 * is checked against what real TCP clients on 127.0.0.1 get from a real server for the same
 * commands (text and RESP3), so inject cannot drift from the wire.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import {
  Application,
  authenticated,
  CommandError,
  CommandHandler,
  command,
  parameter,
  ReplyError,
  RespReader,
  type RespFrame,
  status,
} from "../src/index.js";
import { OPEN_PUBSUB, useTestBed } from "./support.js";
import { resp, sleep } from "./wire.js";
import { decodeReplies, type RespValue } from "./resp-decoder.js";

/** The counter example's commands, plus async ones; its state lives in the app's closure. */
function counterApp(): Application {
  const counters = new Map<string, number>();
  class Counters extends CommandHandler {
    @parameter({ name: "key" })
    increment() {
      const key = this.getArgument("key");
      counters.set(key, (counters.get(key) ?? 0) + 1);
      return counters.get(key);
    }

    @parameter({ name: "key" })
    @parameter({ name: "value", type: "int" })
    set() {
      counters.set(this.getArgument("key"), this.getArgument<number>("value"));
      return status("OK");
    }

    @parameter({ name: "key" })
    get() {
      const key = this.getArgument("key");
      if (!counters.has(key)) throw new CommandError(`${key} Not found`);
      return counters.get(key);
    }

    @parameter({ name: "key", variadic: true })
    rem() {
      for (const key of this.getArguments("key")) counters.delete(key);
    }

    @parameter()
    @authenticated
    secret() {
      return `hello ${this.connection.user}`;
    }

    @parameter({ name: "user" })
    @parameter({ name: "password" })
    async authenticate() {
      const user = await this.attemptLogin(this.getArgument("user"), this.getArgument("password"));
      if (user === null) throw new CommandError("invalid credentials");
      return status("OK");
    }

    @parameter({ name: "ms", type: "int" })
    @parameter({ name: "text" })
    @command({ help: "Replies text after ms milliseconds." })
    async later() {
      await sleep(this.getArgument<number>("ms"));
      return this.getArgument("text");
    }

    @parameter()
    listing() {
      this.write("a");
      this.write([1, 2]);
      return new Map<string, number>([["x", 1]]);
    }

    @parameter()
    whoami() {
      return { user: this.connection.user, header: this.connection.header.app ?? null, address: this.connection.remoteAddress ?? null };
    }
  }
  return new Application([Counters], {
    authenticate: (user, password) => user === "myusername" && password === "mypass",
    builtinLogin: OPEN_PUBSUB,
    authFailureDelay: 0,
  });
}

/** The independent test decoder's tree as the JS values inject documents. */
function plain(value: RespValue): unknown {
  switch (value.t) {
    case "bulk":
      return value.v.toString("utf8");
    case "simple":
      return status(value.v);
    case "int":
      return Number.isSafeInteger(Number(value.v)) ? Number(value.v) : value.v;
    case "null":
      return null;
    case "double":
    case "bool":
    case "big":
      return value.v;
    case "verbatim":
      return value.v;
    case "array":
    case "push":
      return value.v.map(plain);
    case "set":
      return new Set(value.v.map(plain));
    case "map":
      return new Map(value.v.map(([k, v]) => [plain(k), plain(v)]));
    default:
      throw new Error(`unexpected ${value.t}`);
  }
}

/** A real RESP3 client: HELLO 3, then one command at a time, each reply decoded (pushes set aside). */
class Resp3Socket {
  readonly #reader = new RespReader();
  readonly #frames: RespFrame[] = [];
  readonly raw: Buffer[] = [];
  #wake: (() => void) | null = null;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.raw.push(chunk);
      this.#reader.push(chunk);
      this.#frames.push(...this.#reader.drain());
      this.#wake?.();
    });
  }

  static async open(port: number): Promise<Resp3Socket> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    const client = new Resp3Socket(socket);
    await client.call("HELLO", "3");
    return client;
  }

  async call(...args: string[]): Promise<RespFrame["value"]> {
    this.socket.write(resp(...args));
    const deadline = Date.now() + 3000;
    for (;;) {
      const index = this.#frames.findIndex((f) => !f.push);
      if (index !== -1) return this.#frames.splice(0, index + 1).at(-1)!.value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply to ${args.join(" ")}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Lines of a text-protocol reply for `line`, read until the server has been quiet a moment. */
async function textReply(client: { send(line: string): void; readLines(n: number): Promise<string[]>; pending: readonly string[] }, line: string, lines: number): Promise<string> {
  client.send(line);
  const got = await client.readLines(lines);
  return got.map((l) => `${l}\r\n`).join("");
}

const SCRIPT: readonly { line: string; lines: number }[] = [
  { line: "increment a", lines: 1 },
  { line: "increment a", lines: 1 },
  { line: "increment b", lines: 1 },
  { line: "set k 5", lines: 1 },
  { line: "get k", lines: 1 },
  { line: "rem a", lines: 1 },
  { line: "get a", lines: 1 },
  { line: "set k abc", lines: 1 },
  { line: "set k", lines: 1 },
  { line: "nosuchcommand x", lines: 1 },
  { line: 'later 5 "two words"', lines: 1 },
  { line: "listing", lines: 4 },
  { line: "help set", lines: 4 },
];

describe("app.inject", () => {
  const bed = useTestBed();

  it("gives the same replies as a real text client and a real RESP3 client", async () => {
    // Three apps with the same code, so each run starts from empty counters.
    const viaText = counterApp();
    const viaResp = counterApp();
    const viaInject = counterApp();
    const viaInjectText = counterApp();
    const text = await bed.open(await bed.serve(viaText));
    text.send("header line");
    const respClient = await Resp3Socket.open(await bed.serve(viaResp));
    try {
      const conn = viaInject.injectConnection();
      const connText = viaInjectText.injectConnection({ protocol: "text" });
      for (const { line, lines } of SCRIPT) {
        const expectedText = await textReply(text, line, lines);
        const expectedValue = await respClient.call(...(line === 'later 5 "two words"' ? ["later", "5", "two words"] : line.split(" ")));
        const injected = await conn.run(line);
        const injectedText = await connText.run(line);
        assert.equal(injectedText.text, expectedText, `text protocol bytes of ${line}`);
        assert.equal(injected.text, expectedText, `text rendering of ${line}`);
        if (expectedValue instanceof ReplyError) {
          assert.equal(injected.value, undefined);
          assert.deepEqual(injected.error, { code: expectedValue.code, message: expectedValue.message }, line);
          assert.deepEqual(injectedText.error, injected.error, `text-mode error of ${line}`);
        } else {
          assert.equal(injected.error, null, line);
          assert.deepEqual(injected.value, expectedValue, `value of ${line}`);
        }
      }
      await conn.close();
      await connText.close();
    } finally {
      respClient.close();
    }
  });

  it("decodes values exactly, and agrees with the independent test decoder on the real bytes", async () => {
    const served = counterApp();
    const app = counterApp();
    const client = await Resp3Socket.open(await bed.serve(served));
    try {
      for (const argv of [["listing"], ["set", "n", "3"], ["get", "n"], ["get", "missing"], ["whoami"], ["commands"], ["rem", "n"]]) {
        client.raw.length = 0;
        await client.call(...argv);
        const independent = decodeReplies(Buffer.concat(client.raw));
        assert.equal(independent.length, 1, argv.join(" "));
        const result = await app.inject(argv);
        if (independent[0]!.t === "error") assert.equal(`${result.error?.code} ${result.error?.message}`, independent[0]!.v);
        else assert.deepEqual(result.value, plain(independent[0]!), argv.join(" "));
      }
      const result = await app.inject("listing");
      assert.deepEqual(result.value, ["a", [1, 2], new Map([["x", 1]])]);
      assert.equal((await app.inject(["set", "n", "7"])).value, status("OK"));
      assert.equal((await app.inject(["get", "n"])).value, 7);
      assert.equal((await app.inject("increment 'a b'")).value, 1);
      assert.equal((await app.inject(["get", "a b"])).value, 1);
    } finally {
      client.close();
    }
  });

  it("reports errors: CommandError, unknown command, missing and invalid arguments, unbalanced quotes", async () => {
    const app = counterApp();
    assert.deepEqual((await app.inject("get nope")).error, { code: "ERR", message: "nope Not found" });
    assert.deepEqual((await app.inject("frobnicate")).error, { code: "ERR", message: "unknown command 'frobnicate'" });
    const missing = await app.inject(["set", "k"]);
    assert.equal(missing.value, undefined);
    assert.equal(missing.error?.code, "ERR");
    assert.match(missing.error?.message ?? "", /missing argument 'value'/);
    assert.match(missing.text, /^-ERR wrong number of arguments for 'set'/);
    assert.match((await app.inject("set k abc")).error?.message ?? "", /expected an integer, got 'abc'/);
    assert.deepEqual((await app.inject('set "k 1')).error, { code: "ERR", message: "Protocol error: unbalanced quotes" });
    await assert.rejects(app.inject([]), { code: "RETOPY_INVALID_COMMAND" });
    await assert.rejects(app.inject("increment a\nincrement a", { protocol: "text" }), { code: "RETOPY_INVALID_COMMAND" });
  });

  it("runs @authenticated commands for options.user, a header login and a login command on one connection", async () => {
    const app = counterApp();
    assert.equal((await app.inject("secret")).error?.code, "NOAUTH");
    assert.equal((await app.inject("secret", { protocol: "text" })).text, "-ERR Authorization required\r\n");
    assert.equal((await app.inject("secret", { user: "alice" })).value, "hello alice");
    assert.equal((await app.inject("secret", { header: { auth: "myusername:mypass" } })).value, "hello myusername");
    const refused = app.injectConnection({ header: { auth: "myusername:wrong" } });
    assert.equal((await refused.handshake).error?.code, "WRONGPASS");
    assert.equal((await refused.run("secret")).error?.code, "NOAUTH");
    await refused.close();

    const [before, login, after] = await app.injectAll(["secret", "authenticate myusername mypass", "secret"]);
    assert.equal(before!.error?.code, "NOAUTH");
    assert.equal(login!.value, status("OK"));
    assert.equal(after!.value, "hello myusername");

    const conn = app.injectConnection({ header: { app: "tests" }, remoteAddress: "10.0.0.9" });
    assert.deepEqual((await conn.run("whoami")).value, new Map<string, unknown>([["user", null], ["header", "tests"], ["address", "10.0.0.9"]]));
    await conn.close();
  });

  it("sends header values as the client would (a backslash arrives intact) and refuses spaces, quotes and odd keys with RETOPY_INVALID_OPTION", async () => {
    const app = counterApp();
    const conn = app.injectConnection({ header: { app: "C:\\tests\\é" } });
    assert.equal(((await conn.run("whoami")).value as Map<string, unknown>).get("header"), "C:\\tests\\é");
    await conn.close();
    for (const header of [{ app: "two words" }, { app: 'a"b' }, { app: "it's" }, { "a b": "x" }, { "a=b": "x" }] as Array<Record<string, string>>) {
      assert.throws(() => app.injectConnection({ header }), { code: "RETOPY_INVALID_OPTION" }, JSON.stringify(header));
    }
  });

  it("keeps the order of async commands sent without awaiting", async () => {
    const app = counterApp();
    const conn = app.injectConnection();
    const replies = await Promise.all([conn.run("later 30 slow"), conn.run("increment x"), conn.run("later 1 fast"), conn.run("increment x")]);
    assert.deepEqual(
      replies.map((r) => r.value),
      ["slow", 1, "fast", 2],
    );
    await conn.close();
  });

  it("keeps pub/sub pushes out of replies", async () => {
    const app = counterApp();
    const conn = app.injectConnection();
    const subscribed = await conn.run("subscribe news");
    assert.equal(subscribed.value, undefined);
    assert.equal(subscribed.error, null);
    assert.deepEqual(subscribed.pushes, [["subscribe", "news", 1]]);
    const published = await conn.run(["publish", "news", "hello"]);
    assert.equal(published.value, 1); // the reply alone; the message is a push
    assert.deepEqual(published.pushes, [["message", "news", "hello"]]);
    assert.equal(published.text, "message news hello\r\n1\r\n");
    assert.equal((await conn.run("increment a")).value, 1);
    assert.deepEqual(conn.pushes, [
      ["subscribe", "news", 1],
      ["message", "news", "hello"],
    ]);
    await conn.close();
  });

  it("works on an app that is being served at the same time, sharing its state", async () => {
    const app = counterApp();
    const client = await bed.open(await bed.serve(app));
    client.send("header line");
    assert.equal(await client.command("increment shared"), "1");
    assert.equal((await app.inject("increment shared")).value, 2);
    assert.equal(await client.command("increment shared"), "3");
  });

  it("settles a command that ends late without a reply (async skipReply, a slow header login) when the queue runs dry", async () => {
    class Quiet extends CommandHandler {
      @parameter()
      async later() {
        await sleep(40);
        this.connection.push("note", "done");
        this.skipReply();
      }

      @parameter()
      hi() {
        return "hello";
      }
    }
    const app = new Application([Quiet], {
      authenticate: async (user) => {
        await sleep(40);
        return user === "ann";
      },
    });
    const connection = app.injectConnection({ header: { auth: "ann:pw" } });
    const started = Date.now();
    const quiet = await connection.run("later");
    assert.equal(quiet.value, undefined);
    assert.deepEqual(quiet.pushes, [["note", "done"]]);
    assert.equal((await connection.run("hi")).value, "hello");
    assert.ok(Date.now() - started < 2000);
    await connection.close();
  });

  it("closes after quit: later commands reject, and closing twice is harmless", async () => {
    const app = counterApp();
    const conn = app.injectConnection();
    assert.equal((await conn.run("quit")).value, status("OK"));
    await assert.rejects(conn.run("increment a"), { code: "RETOPY_SERVER_STATE" });
    assert.equal(conn.closed, true);
    await conn.close();
    await conn.close();
    assert.throws(() => app.injectConnection({ protocol: "resp9" as "resp3" }), { code: "RETOPY_INVALID_OPTION" });
  });

  it("leaves no handle behind: a child process that injects exits by itself", async () => {
    const { spawn } = await import("node:child_process");
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "retopy-inject-"));
    const file = join(dir, "inject-exit.mts");
    const script = [
      `import { Application } from ${JSON.stringify(new URL("../src/index.ts", import.meta.url).href)};`,
      "const app = new Application([]);",
      "app.command('hi', {}, async () => { await new Promise((r) => setTimeout(r, 5)); return 'hi'; });",
      "const r = await app.inject('hi');",
      "const c = app.injectConnection({ user: 'u' }); await c.run('subscribe x'); await c.run('hi'); await c.close();",
      "await app.injectConnection().run('quit');",
      "app.injectConnection();", // never closed: must not hold the process either
      "console.log(r.value);",
    ].join("\n");
    await writeFile(file, script);
    after(() => rm(dir, { recursive: true, force: true }));
    const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c));
    child.stderr.on("data", (c: Buffer) => (err += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const [code] = (await once(child, "exit")) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 0, err);
    assert.equal(out.trim(), "hi");
  });
});

describe("RespReader", () => {
  it("reads every RESP3 type across arbitrary chunk boundaries", () => {
    const bytes = Buffer.from(
      "+OK\r\n-WRONGTYPE bad\r\n:42\r\n:9007199254740993\r\n$5\r\nhe\r\no\r\n$-1\r\n_\r\n,1.5\r\n,inf\r\n(123456789012345678901\r\n#t\r\n" +
        "=8\r\ntxt:text\r\n*2\r\n:1\r\n*1\r\n+x\r\n~1\r\n$1\r\na\r\n%1\r\n$1\r\nk\r\n:2\r\n>2\r\n$7\r\nmessage\r\n$2\r\nhi\r\n|1\r\n+a\r\n+b\r\n:7\r\n",
    );
    for (const size of [1, 2, 3, 7, bytes.length]) {
      const reader = new RespReader();
      const frames: RespFrame[] = [];
      for (let i = 0; i < bytes.length; i += size) {
        reader.push(bytes.subarray(i, i + size));
        frames.push(...reader.drain());
      }
      assert.equal(reader.pending, 0);
      const values = frames.map((f) => f.value);
      assert.equal(values[0], status("OK"));
      assert.ok(values[1] instanceof ReplyError);
      assert.equal((values[1] as ReplyError).code, "WRONGTYPE");
      assert.equal((values[1] as ReplyError).message, "bad");
      assert.deepEqual(values.slice(2), [
        42,
        9007199254740993n,
        "he\r\no",
        null,
        null,
        1.5,
        Infinity,
        123456789012345678901n,
        true,
        "text",
        [1, [status("x")]],
        new Set(["a"]),
        new Map([["k", 2]]),
        ["message", "hi"],
        7,
      ]);
      assert.deepEqual(
        frames.map((f) => f.push),
        values.map((_, i) => i === values.length - 2),
      );
    }
  });

  it("a large bulk in many reads is held, not re-read: only complete once its last byte is in", () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 0x62);
    const wire = Buffer.concat([Buffer.from(`$${body.length}\r\n`), body, Buffer.from("\r\n:5\r\n")]);
    const reader = new RespReader({ buffers: true });
    const frames: RespFrame[] = [];
    for (let at = 0; at < wire.length; at += 4096) {
      reader.push(wire.subarray(at, at + 4096));
      frames.push(...reader.drain());
      if (at + 4096 < wire.length - 4) assert.equal(frames.length, 0, `a reply came out after ${at + 4096} bytes`);
      // Everything received is either held (pending) or inside a reply taken out.
      const taken = frames.reduce((n, f) => n + (Buffer.isBuffer(f.value) ? `$${body.length}\r\n`.length + body.length + 2 : ":5\r\n".length), 0);
      assert.equal(reader.pending + taken, Math.min(wire.length, at + 4096));
    }
    assert.equal(frames.length, 2);
    assert.ok(Buffer.isBuffer(frames[0]!.value) && frames[0]!.value.equals(body));
    assert.equal(frames[1]!.value, 5);
    assert.equal(reader.pending, 0);
  });

  it("gives Buffers with buffers: true and rejects malformed input", () => {
    const reader = new RespReader({ buffers: true, statuses: false });
    reader.push(Buffer.from([0x24, 0x32, 0x0d, 0x0a, 0xff, 0x00, 0x0d, 0x0a, 0x2b, 0x4f, 0x4b, 0x0d, 0x0a]));
    assert.deepEqual(reader.drain().map((f) => f.value), [Buffer.from([0xff, 0x00]), "OK"]);
    const bad = new RespReader();
    bad.push("?what\r\n");
    assert.throws(() => bad.next(), { name: "RespProtocolError" });
  });
});
