/**
 * The Redis pub/sub transport against a real redis-server: messages go through Redis (one
 * published straight on redis-server reaches a retopy subscriber), patterns, binary
 * messages, listen() failing on an unreachable Redis, and a lost link: PUBLISH replies a
 * clear error while Redis is down, the drop and the return are logged at warn, and once
 * redis-server is back on its port the subscriptions are made again.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { Application, CommandHandler, command, RetopyServer, type RetopyLoggerOptions } from "../src/index.js";
import { WireErrors } from "../src/protocol/wire-errors.js";
import { connectRedis, freePort, nextPushes, type RedisServer, startRedisServer } from "./redis-support.js";

class Basics extends CommandHandler {
  @command({ help: "Replies its argument count." })
  nothing(): number {
    return 0;
  }
}

/** Logger options whose JSON lines are kept in `lines`. */
function capturingLogger(): { logger: RetopyLoggerOptions; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim() !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: { level: "info", destination: stream }, lines };
}


async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the Redis pub/sub transport", () => {
  let redis: RedisServer;
  let redisPort: number;
  let server: RetopyServer;
  let port: number;
  const log = capturingLogger();
  const clients: Redis[] = [];

  before(async () => {
    redis = await startRedisServer();
    redisPort = Number(redis.client.options.port);
    server = new RetopyServer(new Application([Basics]), { logger: log.logger, pubsub: `redis://127.0.0.1:${redisPort}` });
    ({ port } = await server.listen({ port: 0 }));
  });

  after(async () => {
    for (const client of clients) client.disconnect();
    await server?.close({ timeout: 2000 });
    redis?.stop();
  });

  const connect = async (protocol: 2 | 3 = 2) => {
    const client = await connectRedis(port, { protocol });
    clients.push(client);
    return client;
  };

  it("delivers through Redis: channels, patterns, bytes, and what redis-server itself publishes", async () => {
    const sub = await connect();
    const pub = await connect(3);
    assert.equal(await sub.subscribe("news"), 1);
    assert.equal(await sub.psubscribe("n*"), 2);
    const messages = nextPushes(sub, "message", 2);
    const pmessages = nextPushes(sub, "pmessage", 2);
    // Redis counts the receiving process once per channel and once per matching pattern.
    assert.equal(await pub.publish("news", "through redis"), 2);
    assert.equal(await redis.client.publish("news", "from redis-server"), 2);
    assert.deepEqual(await messages, [["news", "through redis"], ["news", "from redis-server"]]);
    assert.deepEqual(await pmessages, [["n*", "news", "through redis"], ["n*", "news", "from redis-server"]]);

    const bytes = Buffer.from([0, 0xff, 0x0d, 0x0a, 0xc3]);
    const binary = new Promise<Buffer>((resolve) => sub.once("messageBuffer", (_c: Buffer, message: Buffer) => resolve(message)));
    await pub.publish("news", bytes);
    assert.deepEqual(await binary, bytes);

    // Counts are Redis's: processes, not end clients (docs/pubsub.md).
    assert.deepEqual(await pub.call("pubsub", "numsub", "news", "none"), ["news", 1, "none", 0]);
    assert.equal(await pub.call("pubsub", "numpat"), 1);
    assert.deepEqual(await pub.call("pubsub", "channels", "ne*"), ["news"]);
    assert.deepEqual(await redis.client.call("pubsub", "numsub", "news"), ["news", 1]);

    // By name: ioredis's bare unsubscribe() waits forever while patterns remain, against redis-server too.
    await sub.unsubscribe("news");
    await sub.punsubscribe("n*");
    await until(async () => ((await redis.client.call("pubsub", "numpat")) === 0 ? true : undefined), "the pattern to leave Redis");
    assert.deepEqual(await redis.client.call("pubsub", "numsub", "news"), ["news", 0]);
    assert.equal(await pub.publish("news", "nobody"), 0);
  });

  it("a lost Redis: PUBLISH replies an error, warn lines say what is lost, and the subscriptions come back with Redis", async () => {
    const sub = await connect();
    const pub = await connect();
    await sub.subscribe("survivor");
    await sub.psubscribe("surv*");
    assert.equal(await pub.publish("survivor", "before"), 2);

    redis.stop();
    await new Promise((resolve) => redis.process.once("exit", resolve));
    const refused = await until(async () => {
      try {
        await pub.publish("survivor", "while down");
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    }, "PUBLISH to fail while Redis is down");
    assert.ok(
      [WireErrors.pubsubLinkDown.message, WireErrors.pubsubLinkLost.message].some((m) => refused === `ERR ${m}`),
      refused,
    );
    await assert.rejects(pub.call("pubsub", "numsub", "survivor"), /link to Redis is down/);
    // Local commands and the subscriber's connection go on.
    assert.equal(await pub.call("nothing"), 0);
    const lost = log.lines.filter((line) => line.level === 40 && String(line.msg).startsWith("pub/sub link to Redis lost"));
    assert.ok(lost.some((line) => line.link === "subscriber" && /never arrive here/.test(String(line.msg))), JSON.stringify(lost));

    // A SUBSCRIBE while Redis is down is confirmed at once, and made on Redis once it is back.
    const latecomer = await connect();
    assert.equal(await latecomer.subscribe("latecomer"), 1);

    redis = await startRedisServer({ port: redisPort });
    const received = nextPushes(sub, "message", 1, 15_000);
    await until(async () => {
      try {
        return (await pub.publish("survivor", "after")) === 2 ? true : undefined;
      } catch {
        return undefined;
      }
    }, "PUBLISH to reach the resubscribed process");
    assert.deepEqual(await received, [["survivor", "after"]]);
    const late = nextPushes(latecomer, "message", 1, 15_000);
    await until(async () => ((await pub.publish("latecomer", "welcome")) === 1 ? true : undefined), "the latecomer's SUBSCRIBE to reach Redis");
    assert.deepEqual((await late)[0], ["latecomer", "welcome"]);
    assert.deepEqual(await redis.client.call("pubsub", "numsub", "survivor"), ["survivor", 1]);
    assert.equal(await redis.client.call("pubsub", "numpat"), 1);
    const back = log.lines.filter((line) => line.level === 40 && String(line.msg).startsWith("pub/sub link to Redis is back"));
    assert.ok(back.some((line) => line.link === "subscriber" && /were lost/.test(String(line.msg))), JSON.stringify(back));
    assert.ok(!JSON.stringify(log.lines).includes("Internal Server Error"));
    await sub.unsubscribe("survivor");
    await sub.punsubscribe("surv*");
  });

  it("a listen() that fails on its port closes the links to Redis, and a retry opens them again", async () => {
    const clientsOnRedis = async () => String(await redis.client.call("client", "list")).trim().split("\n").length;
    const before = await clientsOnRedis();
    const second = new RetopyServer(new Application([Basics]), { logger: false, pubsub: `redis://127.0.0.1:${redisPort}` });
    await assert.rejects(second.listen({ port, host: "127.0.0.1" }), /EADDRINUSE/);
    await until(async () => ((await clientsOnRedis()) === before ? true : undefined), "the failed server's links to close", 5000);
    const { port: retried } = await second.listen({ port: 0 });
    const sub = await connectRedis(retried, { protocol: 2 });
    try {
      assert.equal(await sub.subscribe("retry"), 1);
      const got = nextPushes(sub, "message", 1);
      assert.equal(await redis.client.publish("retry", "works"), 1);
      assert.deepEqual(await got, [["retry", "works"]]);
    } finally {
      sub.disconnect();
      await second.close();
    }
  });

  it("listen() fails with a clear error when Redis cannot be reached, and holds nothing open", async () => {
    const nowhere = await freePort();
    const failing = new RetopyServer(new Application([Basics]), { logger: false, pubsub: `redis://127.0.0.1:${nowhere}` });
    await assert.rejects(failing.listen({ port: 0 }), new RegExp(`cannot reach Redis for pub/sub at 127.0.0.1:${nowhere}: .*ECONNREFUSED`));
    assert.equal(failing.address(), null);
    await failing.close();
  });
});
