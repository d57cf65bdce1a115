/**
 * Redis compatibility (src/compat/) through a real Redis client: ioredis talks to a
 * retopy server on 127.0.0.1 exactly as it talks to Redis — HELLO 3 (with AUTH), CLIENT
 * SETNAME/SETINFO and the INFO ready check at connect, then commands, pipelines, binary
 * values, errors, logins and the server-introspection commands. A few checks read the raw
 * bytes to prove which protocol a reply was encoded in.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis, type RedisOptions } from "ioredis";
import {
  Application,
  authenticated,
  CommandError,
  CommandHandler,
  command,
  parameter,
  status,
  type ApplicationSettings,
  type HandlerEntry,
  type Status,
} from "../src/index.js";
import { connectRedis } from "./redis-support.js";
import { eventually, type TextClient, useTestBed } from "./support.js";

/** A small Redis-like store: every value is kept as raw bytes, like Redis strings. */
function kvHandlers(): HandlerEntry[] {
  const store = new Map<string, Buffer>();
  const counters = new Map<string, number>();

  class KeyValue extends CommandHandler {
    @command({ help: "Replies PONG." })
    ping(): Status {
      return status("PONG");
    }

    @parameter({ name: "key" })
    @parameter({ name: "value", type: "buffer", help: "any bytes" })
    @command({ help: "Sets key to hold the value." })
    set(): Status {
      store.set(this.getArgument("key"), this.getBuffer("value") ?? Buffer.alloc(0));
      return status("OK");
    }

    @parameter({ name: "key" })
    @command({ help: "The value of key, or nil." })
    get(): Buffer | null {
      return store.get(this.getArgument("key")) ?? null;
    }

    @parameter({ name: "key" })
    @command({ help: "Adds one to the integer stored at key." })
    incr(): number {
      const key = this.getArgument("key");
      const old = store.get(key)?.toString("utf8") ?? "0";
      if (!/^-?\d+$/.test(old)) throw new CommandError("value is not an integer or out of range");
      const next = Number(old) + 1;
      store.set(key, Buffer.from(String(next)));
      return next;
    }

    @parameter({ name: "key", help: "the counter's name" })
    @command({ help: "Adds one to a counter and replies its new value." })
    increment(): number {
      const key = this.getArgument("key");
      counters.set(key, (counters.get(key) ?? 0) + 1);
      return counters.get(key)!;
    }

    @parameter({ name: "key", variadic: true })
    @command({ help: "Removes keys." })
    del(): number {
      let n = 0;
      for (const key of this.getArguments("key")) if (store.delete(key)) n++;
      return n;
    }

    @parameter({ name: "count", type: "int", default: 1 })
    @parameter({ name: "rest", variadic: true, default: [] })
    opt(): number {
      return this.getArgument<number>("count");
    }

    @parameter({ name: "message" })
    fail(): never {
      throw new CommandError(this.getArgument("message"));
    }

    @parameter()
    nothing(): null {
      return null;
    }

    @parameter()
    pair(): Map<string, number> {
      return new Map([
        ["a", 1],
        ["b", 2],
      ]);
    }

    @parameter()
    half(): number {
      return 1.5;
    }

    @parameter()
    @authenticated
    authed(): string {
      return `hello ${this.connection.user}`;
    }

    @parameter()
    whoami(): string | null {
      return this.connection.user;
    }
  }
  return [KeyValue];
}

const ALICE: ApplicationSettings = { authenticate: (user, password) => user === "alice" && password === "s3cret" };

describe("Redis compatibility through ioredis", () => {
  const bed = useTestBed();
  const clients: Redis[] = [];
  let port = 0;
  let app: Application;

  before(async () => {
    app = new Application(kvHandlers(), ALICE);
    port = await bed.serve(app);
  });

  after(() => {
    for (const client of clients) client.disconnect();
  });

  /** A client that fails fast instead of retrying, closed when the suite ends. */
  async function connect(options: RedisOptions = {}, to = port): Promise<Redis> {
    const client = await connectRedis(to, options);
    clients.push(client);
    return client;
  }

  /** ioredis's RESP2-shaped (flattened) map reply as an object. */
  function pairs(reply: unknown): Record<string, unknown> {
    assert.ok(Array.isArray(reply), `expected a flattened map, got ${JSON.stringify(reply)}`);
    assert.equal(reply.length % 2, 0);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
    return out;
  }

  function replyError(pattern: RegExp): (error: unknown) => boolean {
    return (error) => {
      assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
      assert.equal(error.name, "ReplyError");
      assert.match(error.message, pattern);
      return true;
    };
  }

  it("connects with the default handshake (HELLO 3, CLIENT SETINFO, INFO ready check) and answers PING", async () => {
    const redis = await connect();
    assert.equal(redis.status, "ready");
    assert.equal(await redis.ping(), "PONG");
  });

  it("connects over RESP2 too (protocol: 2)", async () => {
    const redis = await connect({ protocol: 2 });
    assert.equal(redis.status, "ready");
    assert.equal(await redis.ping(), "PONG");
  });

  it("SET and GET strings; GET of a missing key is null", async () => {
    const redis = await connect();
    assert.equal(await redis.set("greeting", "héllo wörld"), "OK");
    assert.equal(await redis.get("greeting"), "héllo wörld");
    assert.equal(await redis.get("no-such-key"), null);
    assert.equal(await redis.incr("n"), 1);
    assert.equal(await redis.incr("n"), 2);
  });

  it("custom commands through redis.call", async () => {
    const redis = await connect();
    assert.equal(await redis.call("increment", "a"), 1);
    assert.equal(await redis.call("increment", "a"), 2);
    assert.equal(await redis.call("INCREMENT", "b"), 1);
  });

  it("answers a pipeline of 1,000 commands in order", async () => {
    const redis = await connect();
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1000; i++) {
      if (i % 2 === 0) pipeline.call("increment", "pipelined");
      else pipeline.set(`p${i}`, String(i)).get(`p${i}`);
    }
    const results = await pipeline.exec();
    assert.ok(results);
    assert.equal(results.length, 1500);
    let counter = 0;
    let index = 0;
    for (let i = 0; i < 1000; i++) {
      if (i % 2 === 0) {
        assert.deepEqual(results[index++], [null, ++counter]);
      } else {
        assert.deepEqual(results[index++], [null, "OK"]);
        assert.deepEqual(results[index++], [null, String(i)]);
      }
    }
  });

  it("round-trips every byte value through a buffer parameter", async () => {
    const redis = await connect();
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    assert.equal(await redis.set("binary", bytes), "OK");
    const back = await redis.getBuffer("binary");
    assert.ok(Buffer.isBuffer(back));
    assert.ok(back.equals(bytes), `got ${back.toString("hex")}`);
    // Binary keys are fine too, and a value with CR LF inside survives.
    const tricky = Buffer.from("a\r\nb\r\n\0\xff", "latin1");
    await redis.set("tricky", tricky);
    assert.ok((await redis.getBuffer("tricky"))!.equals(tricky));
  });

  it("a CommandError is a ReplyError with its message; an unknown command is refused", async () => {
    const redis = await connect();
    await assert.rejects(redis.call("fail", "nope"), replyError(/^ERR nope$/));
    await assert.rejects(redis.call("nosuchcmd", "x"), replyError(/^ERR unknown command 'nosuchcmd'/));
    await assert.rejects(redis.call("increment"), replyError(/^ERR wrong number of arguments for 'increment'/));
    // The connection is still usable.
    assert.equal(await redis.ping(), "PONG");
  });

  describe("AUTH", () => {
    it("@authenticated commands reply NOAUTH until AUTH succeeds", async () => {
      const redis = await connect();
      await assert.rejects(redis.call("authed"), replyError(/^NOAUTH /));
      assert.equal(await redis.auth("alice", "s3cret"), "OK");
      assert.equal(await redis.call("authed"), "hello alice");
    });

    it("a wrong password replies WRONGPASS and does not log in", async () => {
      const redis = await connect();
      await assert.rejects(redis.auth("alice", "wrong"), replyError(/^WRONGPASS invalid username-password pair/));
      await assert.rejects(redis.auth("s3cret"), replyError(/^WRONGPASS /), "AUTH password checks the user 'default'");
      assert.equal(await redis.call("whoami"), null);
      await assert.rejects(redis.call("authed"), replyError(/^NOAUTH /));
    });

    it("new Redis({ username, password }) logs in at connect, over RESP3 (HELLO AUTH) and RESP2 (AUTH)", async () => {
      for (const protocol of [3, 2] as const) {
        const redis = await connect({ username: "alice", password: "s3cret", protocol });
        assert.equal(await redis.call("authed"), "hello alice", `protocol ${protocol}`);
      }
    });

    it("a wrong password at connect fails the connection with WRONGPASS", async () => {
      for (const protocol of [3, 2] as const) {
        const client = new Redis({
          port,
          host: "127.0.0.1",
          lazyConnect: true,
          maxRetriesPerRequest: 1,
          retryStrategy: () => null,
          username: "alice",
          password: "nope",
          protocol,
        });
        clients.push(client);
        const errors: Error[] = [];
        client.on("error", (error: Error) => errors.push(error));
        // ioredis emits the server's refusal as an "error" event, then closes the connection.
        await assert.rejects(client.connect());
        await eventually(() => errors.length > 0, 3000, "the error event");
        assert.match(errors[0]!.message, /^WRONGPASS invalid username-password pair/, `protocol ${protocol}`);
        assert.notEqual(client.status, "ready");
      }
    });

    it("authenticate may return the user name to log in as", async () => {
      const port2 = await bed.serve(
        new Application(kvHandlers(), {
          authenticate: async (user, password) => (password === "token-1" ? `${user}@tokens` : false),
        }),
      );
      const redis = await connect({}, port2);
      assert.equal(await redis.auth("token-1"), "OK");
      assert.equal(await redis.call("whoami"), "default@tokens");
      assert.equal(await redis.auth("bob", "token-1"), "OK");
      assert.equal(await redis.call("authed"), "hello bob@tokens");
    });

    it("without an authenticate setting AUTH is refused like Redis without a password", async () => {
      const port2 = await bed.serve(new Application(kvHandlers()));
      const redis = await connect({}, port2);
      await assert.rejects(redis.auth("x"), replyError(/^ERR AUTH <password> called without any password configured/));
    });
  });

  describe("HELLO", () => {
    it("HELLO 3 from a RESP2 client switches it to RESP3; later replies still decode", async () => {
      const redis = await connect({ protocol: 2 });
      const hello = pairs(await redis.call("hello", "3"));
      assert.equal(hello.server, "retopy");
      assert.equal(hello.proto, 3);
      assert.equal(hello.mode, "standalone");
      assert.equal(hello.role, "master");
      assert.deepEqual(hello.modules, []);
      assert.equal(typeof hello.id, "number");
      assert.equal(hello.version, (await import("../package.json", { with: { type: "json" } })).default.version);
      assert.equal(await redis.call("nothing"), null);
      assert.deepEqual(await redis.call("pair"), ["a", 1, "b", 2]);
      assert.equal(await redis.get("no-such-key"), null);
      assert.equal(await redis.call("increment", "hello3"), 1);
    });

    it("with replyMapping resp3, HELLO and map replies come back as objects", async () => {
      const redis = await connect({ protocol: 3, replyMapping: "resp3" });
      const hello = (await redis.call("hello")) as Record<string, unknown>;
      assert.equal(hello.server, "retopy");
      assert.equal(hello.proto, 3);
      assert.deepEqual(await redis.call("pair"), { a: 1, b: 2 });
      assert.equal(await redis.call("half"), 1.5, "a RESP3 double");
      assert.equal(await redis.call("nothing"), null);
    });

    it("HELLO without arguments replies the map without switching", async () => {
      const redis = await connect({ protocol: 2 });
      assert.equal(pairs(await redis.call("hello")).proto, 2);
      assert.equal(pairs(await redis.call("hello", "2", "setname", "two")).proto, 2);
      assert.equal(await redis.client("GETNAME"), "two");
    });

    it("refuses other versions with NOPROTO, bad options with a syntax error, bad credentials with WRONGPASS", async () => {
      const redis = await connect({ protocol: 2 });
      await assert.rejects(redis.call("hello", "4"), replyError(/^NOPROTO sorry, this protocol version is not supported/));
      await assert.rejects(redis.call("hello", "1"), replyError(/^NOPROTO /));
      await assert.rejects(redis.call("hello", "three"), replyError(/^ERR Protocol version is not an integer/));
      await assert.rejects(redis.call("hello", "3", "AUTH", "alice"), replyError(/^ERR Syntax error in HELLO option 'AUTH'/));
      await assert.rejects(redis.call("hello", "3", "bogus"), replyError(/^ERR Syntax error in HELLO option 'bogus'/));
      await assert.rejects(redis.call("hello", "3", "auth", "alice", "wrong"), replyError(/^WRONGPASS /));
      await assert.rejects(redis.call("hello", "3", "SETNAME", "a b"), replyError(/^ERR Client names cannot contain spaces/));
      // None of the refused HELLOs changed anything.
      assert.equal(pairs(await redis.call("hello")).proto, 2);
      assert.equal(await redis.call("whoami"), null);
      assert.equal(await redis.client("GETNAME"), null);
      const hello = pairs(await redis.call("hello", "2", "AUTH", "alice", "s3cret", "SETNAME", "ally"));
      assert.equal(hello.proto, 2);
      assert.equal(await redis.call("whoami"), "alice");
      assert.equal(await redis.client("GETNAME"), "ally");
    });
  });

  describe("raw bytes", () => {
    /** Waits until the client has received exactly `expected` (bounded), then clears it. */
    async function expectRaw(client: TextClient, expected: string): Promise<void> {
      await eventually(() => client.raw.length >= expected.length, 3000, `reply ${JSON.stringify(expected)}`).catch(() => undefined);
      assert.equal(client.raw, expected);
      client.raw = "";
    }

    function resp(...args: string[]): string {
      return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
    }

    it("HELLO 3's own reply is RESP3, and so is everything after it; a refused HELLO keeps RESP2", async () => {
      const client = await bed.open(port);
      client.write(resp("client", "id"));
      await eventually(() => client.raw.endsWith("\r\n"), 3000, "CLIENT ID");
      const id = /^:(\d+)\r\n$/.exec(client.raw)?.[1];
      assert.ok(id, client.raw);
      client.raw = "";

      client.write(resp("hello", "3", "auth", "alice", "wrong") + resp("nothing"));
      await expectRaw(client, "-WRONGPASS invalid username-password pair or user is disabled.\r\n$-1\r\n");

      const version = (await import("../package.json", { with: { type: "json" } })).default.version;
      const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
      client.write(resp("HELLO", "3") + resp("nothing") + resp("pair"));
      await expectRaw(
        client,
        "%7\r\n" +
          `${bulk("server")}${bulk("retopy")}` +
          `${bulk("version")}${bulk(version)}` +
          `${bulk("proto")}:3\r\n` +
          `${bulk("id")}:${id}\r\n` +
          `${bulk("mode")}${bulk("standalone")}` +
          `${bulk("role")}${bulk("master")}` +
          `${bulk("modules")}*0\r\n` +
          "_\r\n" +
          `%2\r\n${bulk("a")}:1\r\n${bulk("b")}:2\r\n`,
      );

      client.write(resp("hello", "2") + resp("nothing"));
      await eventually(() => client.raw.endsWith("$-1\r\n"), 3000, "RESP2 again");
      assert.ok(client.raw.startsWith("*14\r\n"), client.raw.slice(0, 20));
    });

    it("CONFIG GET answers the two-element arrays redis-benchmark expects", async () => {
      const client = await bed.open(port);
      client.write(resp("CONFIG", "GET", "save") + resp("CONFIG", "GET", "appendonly") + resp("config", "get", "no-such-setting"));
      await expectRaw(client, "*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n*0\r\n");
    });
  });

  it("CLIENT: connectionName, GETNAME, ID, SETINFO, INFO and LIST", async () => {
    const redis = await connect({ connectionName: "worker-1" });
    assert.equal(await redis.client("GETNAME"), "worker-1");
    const id = await redis.client("ID");
    assert.equal(typeof id, "number");
    const info = String(await redis.client("INFO"));
    assert.match(info, new RegExp(`^id=${id} addr=127\\.0\\.0\\.1:\\d+ name=worker-1 user= proto=resp3 resp=3 `));
    assert.match(info, /lib-name=ioredis lib-ver=\S+\n$/, "ioredis's CLIENT SETINFO was recorded");
    assert.equal(String(await redis.client("LIST")), info);
    assert.equal(await redis.client("SETNAME", "renamed"), "OK");
    assert.equal(await redis.client("GETNAME"), "renamed");
    assert.equal(await redis.client("SETNAME", "+plus"), "OK");
    assert.equal(await redis.client("GETNAME"), "+plus", "a name starting with + is still a bulk string");
    assert.equal(await redis.client("SETNAME", ""), "OK");
    assert.equal(await redis.client("GETNAME"), null);
    await assert.rejects(redis.client("SETNAME", "has space"), replyError(/^ERR Client names cannot contain spaces, newlines or special characters\.$/));
    await assert.rejects(redis.call("client", "frobnicate"), replyError(/^ERR unknown subcommand 'frobnicate'\. Try CLIENT HELP\.$/));
    await assert.rejects(redis.call("client", "setinfo", "lib-colour", "x"), replyError(/^ERR Unrecognized option 'lib-colour'/));
    await assert.rejects(redis.call("client", "getname", "extra"), replyError(/^ERR wrong number of arguments for 'client\|getname' command$/));
    assert.ok(((await redis.call("client", "help")) as string[]).length > 2);
  });

  it("SELECT 0 is OK, any other database is out of range", async () => {
    const redis = await connect({ db: 0 });
    assert.equal(await redis.select(0), "OK");
    await assert.rejects(redis.select(1), replyError(/^ERR DB index is out of range$/));
    await assert.rejects(redis.call("select", "x"), replyError(/^ERR value is not an integer or out of range$/));
  });

  it("COMMAND, COMMAND COUNT, INFO and DOCS describe the application's commands", async () => {
    const redis = await connect({ protocol: 2 });
    const count = await redis.call("command", "count");
    assert.equal(count, app.commands.length);
    const table = (await redis.call("command")) as unknown[][];
    assert.equal(table.length, count);
    const names = table.map((entry) => entry[0]);
    for (const name of ["increment", "set", "hello", "auth", "client", "select", "command", "config", "info", "quit", "help"]) {
      assert.ok(names.includes(name), `COMMAND lists ${name}`);
    }
    const arity = (name: string) => table.find((entry) => entry[0] === name)?.[1];
    assert.equal(arity("increment"), 2, "one required argument");
    assert.equal(arity("set"), 3);
    assert.equal(arity("ping"), 1);
    assert.equal(arity("del"), -2, "variadic: at least one key");
    assert.equal(arity("opt"), -1, "optional and optional variadic");
    assert.equal(arity("hello"), -1);
    assert.equal(arity("auth"), -2);
    assert.deepEqual(table.find((entry) => entry[0] === "increment"), ["increment", 2, [], 0, 0, 0, [], [], [], []]);

    assert.deepEqual(await redis.call("command", "info", "INCREMENT", "nosuch"), [["increment", 2, [], 0, 0, 0, [], [], [], []], null]);

    const docs = pairs(await redis.call("command", "docs", "increment", "del", "opt", "nosuch"));
    assert.deepEqual(Object.keys(docs), ["increment", "del", "opt"]);
    const increment = pairs(docs.increment);
    assert.equal(increment.summary, "Adds one to a counter and replies its new value.");
    assert.equal(increment.since, "1.0.0");
    assert.equal(increment.group, "generic");
    assert.deepEqual((increment.arguments as unknown[]).map(pairs), [{ name: "key", type: "string" }]);
    assert.deepEqual((pairs(docs.del).arguments as unknown[]).map(pairs), [{ name: "key", type: "string", flags: ["multiple"] }]);
    assert.deepEqual((pairs(docs.opt).arguments as unknown[]).map(pairs), [
      { name: "count", type: "integer", flags: ["optional"] },
      { name: "rest", type: "string", flags: ["optional", "multiple"] },
    ]);
    const all = pairs(await redis.call("command", "docs"));
    assert.equal(Object.keys(all).length, count);
    assert.ok("subcommands" in pairs(all.client!));
    await assert.rejects(redis.call("command", "nope"), replyError(/^ERR unknown subcommand 'nope'\. Try COMMAND HELP\.$/));
  });

  it("CONFIG GET save/appendonly, globs; CONFIG SET is refused", async () => {
    const redis = await connect({ protocol: 2 });
    assert.deepEqual(await redis.config("GET", "save"), ["save", ""]);
    assert.deepEqual(await redis.config("GET", "appendonly"), ["appendonly", "no"]);
    assert.deepEqual(await redis.config("GET", "maxmemory"), []);
    assert.deepEqual(await redis.call("config", "get", "app*"), ["appendonly", "no"]);
    assert.deepEqual(await redis.call("config", "get", "SA?E", "[a-d]*"), ["save", "", "appendonly", "no", "databases", "1"]);
    assert.deepEqual(await redis.call("config", "get", "*"), ["save", "", "appendonly", "no", "databases", "1"]);
    await assert.rejects(redis.call("config", "set", "save", ""), replyError(/^ERR CONFIG SET is not supported/));
  });

  it("INFO is Redis INFO text: counters, loading:0, sections on request", async () => {
    const redis = await connect();
    const info = await redis.info();
    assert.match(info, /^# Server\r\nredis_version:7\.0\.0\r\nretopy_version:\S+\r\n/);
    assert.match(info, /\r\nconnected_clients:[1-9]\d*\r\n/);
    assert.match(info, /\r\nloading:0\r\n/);
    assert.match(info, /\r\ntotal_connections_received:[1-9]\d*\r\n/);
    assert.match(info, /\r\ntotal_commands_processed:[1-9]\d*\r\n/);
    assert.match(info, /\r\nuptime_in_seconds:\d+\r\n/);
    assert.doesNotMatch(info, /cmdstat_/, "commandstats only on request");
    const clients = await redis.info("clients");
    assert.match(clients, /^# Clients\r\nconnected_clients:\d+\r\n$/);
    assert.match(await redis.info("commandstats"), /cmdstat_info:calls=\d+/);
    assert.equal(await redis.info("no-such-section"), "");
  });

  it("an application command of the same name replaces a compatibility command", async () => {
    class MyInfo extends CommandHandler {
      @parameter({ name: "section", default: "" })
      info(): string {
        return "mine";
      }
    }
    const port2 = await bed.serve(new Application([MyInfo]));
    const redis = await connect({ enableReadyCheck: false }, port2);
    assert.equal(await redis.info(), "mine");
    assert.equal(await redis.call("command", "count"), new Application([MyInfo]).commands.length);
  });
});
