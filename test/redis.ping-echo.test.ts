/**
 * The built-in PING and ECHO against an application that defines neither: byte-exact RESP2,
 * RESP3 and text replies (Redis's, including RESP2's pub/sub-mode PING), Redis's arity errors,
 * then the real clients (ioredis, node-redis, redis-cli) and an application whose own
 * `ping`/`echo` win. `redis-cli --pipe`, which ends its input with an ECHO, is tested too.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { createClient } from "redis";
import { Application, CommandHandler, command, parameter } from "../src/index.js";
import { connectRedis } from "./redis-support.js";
import { type ProgramRun, runProgram, useTestBed } from "./support.js";
import { RawClient, resp } from "./wire.js";

const HAVE_CLI = spawnSync("redis-cli", ["--version"], { stdio: "ignore", timeout: 5000 }).status === 0;

/** An application with no ping or echo of its own: a store, to prove what `--pipe` ran. */
class Store extends CommandHandler {
  static readonly data = new Map<string, string>();

  @parameter({ name: "key" })
  @parameter({ name: "value" })
  @command()
  set(): string {
    Store.data.set(this.getArgument("key"), this.getArgument("value"));
    return "OK";
  }

  @parameter({ name: "key" })
  get(): string | null {
    return Store.data.get(this.getArgument("key")) ?? null;
  }
}

/** Runs redis-cli with `args`, feeding it `input`. */
function redisCli(args: readonly string[], input: Buffer | string = ""): Promise<ProgramRun> {
  return runProgram("redis-cli", args, { input, timeoutMs: 60_000 });
}

describe("built-in PING and ECHO", () => {
  const bed = useTestBed();

  it("RESP2: +PONG, the message as a bulk string, ECHO byte for byte, Redis's arity errors", async () => {
    const port = await bed.serve(new Application([Store]));
    const client = await RawClient.connect(port);
    const binary = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x80]);
    client.write(Buffer.concat([
      resp("PING"), resp("ping", "hello"), resp("ECHO", "héllo"), resp("echo", binary), resp("echo", ""),
      resp("PING", "a", "b"), resp("ECHO"), resp("ECHO", "a", "b"), resp("PING"),
    ]));
    const expected = Buffer.concat([
      Buffer.from("+PONG\r\n$5\r\nhello\r\n$6\r\nhéllo\r\n$5\r\n"), binary, Buffer.from("\r\n$0\r\n\r\n"),
      Buffer.from("-ERR wrong number of arguments for 'ping' command\r\n"),
      Buffer.from("-ERR wrong number of arguments for 'echo' command\r\n"),
      Buffer.from("-ERR wrong number of arguments for 'echo' command\r\n"),
      Buffer.from("+PONG\r\n"),
    ]);
    await client.until((received) => received.length >= expected.length, "nine replies");
    assert.deepEqual(client.received, expected);
    client.destroy();
  });

  it("RESP2 while subscribed: PING replies Redis's `*2 pong \"\"` (and `*2 pong msg`); after unsubscribing, +PONG again", async () => {
    const port = await bed.serve(new Application([Store]));
    const client = await RawClient.connect(port);
    client.write(Buffer.concat([resp("SUBSCRIBE", "news"), resp("PING"), resp("PING", "hi"), resp("ECHO", "e"), resp("UNSUBSCRIBE"), resp("PING")]));
    const expected =
      "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n" +
      "*2\r\n$4\r\npong\r\n$0\r\n\r\n" +
      "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n" +
      "$1\r\ne\r\n" +
      "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:0\r\n" +
      "+PONG\r\n";
    await client.until((received) => received.length >= expected.length, "six replies");
    assert.equal(client.text, expected);
    client.destroy();
  });

  it("RESP3, subscribed or not: +PONG and bulk replies, as Redis 7 sends them", async () => {
    const port = await bed.serve(new Application([Store]));
    const client = await RawClient.connect(port);
    client.write(resp("HELLO", "3"));
    await client.replies(1);
    client.clear();
    client.write(Buffer.concat([resp("PING"), resp("SUBSCRIBE", "news"), resp("PING"), resp("PING", "m"), resp("ECHO", "x")]));
    const expected = "+PONG\r\n>3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n+PONG\r\n$1\r\nm\r\n$1\r\nx\r\n";
    await client.until((received) => received.length >= expected.length, "five replies");
    assert.equal(client.text, expected);
    client.destroy();
  });

  it("text mode (telnet): a first-line `ping` is a command, replies are lines, errors Redis's words", async () => {
    const port = await bed.serve(new Application([Store]));
    const client = await bed.open(port);
    assert.equal(await client.command("ping"), "+PONG");
    assert.equal(await client.command("ping hello"), "hello");
    assert.equal(await client.command('echo "two words"'), "two words");
    assert.equal(await client.command('echo "a\\r\\nb"'), '"a\\r\\nb"', "a line break is quoted, never sent raw");
    assert.equal(await client.command("echo"), "-ERR wrong number of arguments for 'echo' command");
    assert.equal(await client.command("ping a b"), "-ERR wrong number of arguments for 'ping' command");
    assert.equal(await client.command("subscribe news"), "subscribe news 1");
    assert.equal(await client.command("ping"), "+PONG", "text mode has no pub/sub reply shape");
  });

  it("ioredis: ping(), ping(msg), echo(); and in subscriber mode, ping()", async () => {
    const port = await bed.serve(new Application([Store]));
    const redis = await connectRedis(port);
    assert.equal(await redis.ping(), "PONG");
    assert.equal(await redis.ping("hi"), "hi");
    assert.equal(await redis.echo("héllo"), "héllo");
    assert.deepEqual(await redis.echoBuffer(Buffer.from([0, 1, 255])), Buffer.from([0, 1, 255]));
    await assert.rejects(redis.call("echo"), /wrong number of arguments for 'echo' command/);
    const subscriber = await connectRedis(port);
    await subscriber.subscribe("news");
    // ioredis's subscriber mode reads the RESP2 `pong` array Redis sends there (as it does
    // against redis-server 7.0: "PONG", then the message).
    assert.equal(await subscriber.ping(), "PONG");
    assert.equal(await subscriber.ping("x"), "x");
    redis.disconnect();
    subscriber.disconnect();
  });

  for (const RESP of [2, 3] as const) {
    it(`node-redis RESP${RESP}: ping(), ping(msg), echo()`, async () => {
      const port = await bed.serve(new Application([Store]));
      const client = createClient({ RESP, socket: { host: "127.0.0.1", port, reconnectStrategy: false } });
      client.on("error", () => undefined);
      await client.connect();
      try {
        assert.equal(await client.ping(), "PONG");
        assert.equal(await client.ping("hi"), "hi");
        assert.equal(await client.echo("héllo"), "héllo");
      } finally {
        client.destroy();
      }
    });
  }

  it("an application's own ping and echo win over the built-ins", async () => {
    class Own extends CommandHandler {
      @command()
      ping(): string {
        return "mine";
      }

      @parameter({ name: "a" })
      @parameter({ name: "b" })
      echo(): string {
        return `${this.getArgument("a")}+${this.getArgument("b")}`;
      }
    }
    const port = await bed.serve(new Application([Own]));
    const redis = await connectRedis(port);
    assert.equal(await redis.ping(), "mine");
    assert.equal(await redis.call("echo", "x", "y"), "x+y");
    redis.disconnect();
    const text = await bed.open(port);
    assert.equal(await text.command("ping"), "mine");
    if (HAVE_CLI) assert.equal((await redisCli(["-p", String(port), "ping"])).stdout, "mine\n");
    const nodeRedis = createClient({ RESP: 3, socket: { host: "127.0.0.1", port, reconnectStrategy: false } });
    nodeRedis.on("error", () => undefined);
    await nodeRedis.connect();
    try {
      assert.equal(await nodeRedis.ping(), "mine");
    } finally {
      nodeRedis.destroy();
    }
  });

  describe("redis-cli", { skip: HAVE_CLI ? false : "redis-cli is not installed" }, () => {
    it("`redis-cli ping`, `ping msg` and `echo`", async () => {
      const port = await bed.serve(new Application([Store]));
      assert.equal((await redisCli(["-p", String(port), "ping"])).stdout, "PONG\n");
      assert.equal((await redisCli(["-p", String(port), "ping", "hello"])).stdout, "hello\n");
      assert.equal((await redisCli(["-p", String(port), "echo", "a b"])).stdout, "a b\n");
      assert.equal((await redisCli(["-3", "-p", String(port), "ping"])).stdout, "PONG\n");
    });

    it("`redis-cli --pipe` with 100,000 commands: `errors: 0, replies: 100000`, and every SET happened", async () => {
      Store.data.clear();
      const port = await bed.serve(new Application([Store]));
      const COUNT = 100_000;
      const parts: Buffer[] = [];
      for (let i = 0; i < COUNT; i++) parts.push(resp("SET", `pipe:${i}`, `value ${i}`));
      const result = await redisCli(["-p", String(port), "--pipe"], Buffer.concat(parts));
      assert.equal(result.code, 0, result.stderr + result.stdout);
      assert.match(result.stdout, /errors: 0, replies: 100000\n/);
      assert.equal(Store.data.size, COUNT);
      assert.equal(Store.data.get("pipe:0"), "value 0");
      assert.equal(Store.data.get(`pipe:${COUNT - 1}`), `value ${COUNT - 1}`);
    });

    it("`redis-cli --pipe` with inline commands after the header `proto=resp2`", async () => {
      Store.data.clear();
      const port = await bed.serve(new Application([Store]));
      const lines = ["proto=resp2"];
      for (let i = 0; i < 1000; i++) lines.push(`SET inline:${i} ${i}`);
      const result = await redisCli(["-p", String(port), "--pipe"], `${lines.join("\r\n")}\r\n`);
      assert.match(result.stdout, /errors: 0, replies: 1000\n/);
      assert.equal(Store.data.get("inline:999"), "999");
    });

    it("`redis-cli --pipe` counts the errors of refused commands", async () => {
      Store.data.clear();
      const port = await bed.serve(new Application([Store]));
      const input = Buffer.concat([resp("SET", "a", "1"), resp("NOSUCH"), resp("SET", "b"), resp("SET", "c", "3")]);
      const result = await redisCli(["-p", String(port), "--pipe"], input);
      assert.match(result.stdout, /errors: 2, replies: 4\n/);
      assert.deepEqual([...Store.data.keys()].sort(), ["a", "c"]);
    });
  });
});
