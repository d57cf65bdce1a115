/**
 * Outside-review attack on the Redis pub/sub transport (issue 14): a Redis that hangs
 * without closing its sockets (SIGSTOP here; a network that drops packets in production).
 * No link is "lost", so nothing used to fire: PUBLISH and PUBSUB never replied and
 * SUBSCRIBE was never confirmed, and every command the client pipelined behind them waited
 * too. Calls to Redis now give up after REDIS_CALL_TIMEOUT_MS: PUBLISH replies an error that
 * says the message may or may not have been published, SUBSCRIBE is confirmed (Redis makes
 * it once it answers), and once Redis runs again everything works as before.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Application, RetopyServer } from "../src/index.js";
import { connectRedis, nextPushes, type RedisServer, startRedisServer } from "./redis-support.js";

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** `promise`'s outcome as text, or "no reply" once `ms` passed (the test stays bounded either way). */
function outcome(promise: Promise<unknown>, ms: number): Promise<string> {
  return Promise.race([
    promise.then(
      (value) => `reply ${String(value)}`,
      (error: Error) => `error ${error.message}`,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve("no reply"), ms).unref()),
  ]);
}

describe("attack 14: Redis hangs under the pub/sub transport", () => {
  it("PUBLISH and PUBSUB reply an error, SUBSCRIBE is confirmed, and all works again once Redis runs", async () => {
    const redis: RedisServer = await startRedisServer();
    cleanups.push(() => {
      redis.process.kill("SIGCONT");
      redis.stop();
    });
    const server = new RetopyServer(new Application([]), { logger: false, pubsub: `redis://127.0.0.1:${redis.port}` });
    const { port } = await server.listen({ port: 0 });
    cleanups.push(() => server.close());
    const pub = await connectRedis(port);
    const sub = await connectRedis(port);
    cleanups.push(() => pub.disconnect(), () => sub.disconnect());
    assert.equal(await pub.publish("news", "before"), 0);

    assert.ok(redis.process.kill("SIGSTOP"));
    const [published, numpat, subscribed] = await Promise.all([
      outcome(pub.publish("news", "frozen"), 20_000),
      outcome(pub.call("pubsub", "numpat"), 20_000),
      outcome(sub.subscribe("news"), 20_000),
    ]);
    assert.equal(published, "error ERR pub/sub: Redis did not answer in time (a PUBLISH may or may not have taken effect)");
    assert.equal(numpat, "error ERR pub/sub: Redis did not answer in time (a PUBLISH may or may not have taken effect)");
    assert.equal(subscribed, "reply 1", "SUBSCRIBE is confirmed rather than held forever");

    assert.ok(redis.process.kill("SIGCONT"));
    // Redis answers what it was sent, in order: the subscription is made there, and the link goes on.
    const pushes = nextPushes(sub, "message", 1, 10_000);
    let count = 0;
    for (let attempt = 0; attempt < 50 && count === 0; attempt++) {
      count = Number(await pub.publish("news", "after"));
      if (count === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(count, 1);
    assert.deepEqual(await pushes, [["news", "after"]]);
  });
});
