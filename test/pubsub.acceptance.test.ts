/**
 * Acceptance: one pub/sub script (subscribe, psubscribe, publish, unsubscribe, punsubscribe,
 * counts, PUBSUB CHANNELS/NUMSUB/NUMPAT) run by redis-py (test/fixtures/pubsub-script.py,
 * Debian's python3) and by ioredis (RESP2 and RESP3), each against redis-server and against
 * retopy: the transcripts must be equal. Then two `retopy serve --pubsub redis://...`
 * processes sharing one redis-server: a subscriber on one, publishers on both, patterns,
 * and each publisher's order kept over a pipelined burst.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { Application, CommandHandler, command, RetopyServer } from "../src/index.js";
import { CliProcess, ROOT } from "./cli-process.js";
import { connectRedis, type RedisServer, startRedisServer } from "./redis-support.js";
import { runProgram } from "./support.js";

class Nothing extends CommandHandler {
  @command({ help: "Replies 0." })
  nothing(): number {
    return 0;
  }
}

/** The pushes ioredis emits, as [kind, pattern?, channel, message (latin1)] in arrival order. */
function pushLog(client: Redis): { take(count: number, timeoutMs?: number): Promise<string[][]> } {
  const queue: string[][] = [];
  client.on("messageBuffer", (channel: Buffer, message: Buffer) => queue.push(["message", channel.toString("latin1"), message.toString("latin1")]));
  client.on("pmessageBuffer", (pattern: Buffer, channel: Buffer, message: Buffer) =>
    queue.push(["pmessage", pattern.toString("latin1"), channel.toString("latin1"), message.toString("latin1")]),
  );
  return {
    async take(count, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      while (queue.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      return queue.splice(0, count);
    },
  };
}

/** The ioredis version of test/fixtures/pubsub-script.py; returns its transcript. */
async function ioredisScript(port: number, protocol: 2 | 3): Promise<unknown[]> {
  const sub = await connectRedis(port, { protocol });
  const pub = await connectRedis(port, { protocol });
  const pushes = pushLog(sub);
  const out: unknown[] = [];
  const step = (name: string, value: unknown) => out.push([name, value]);
  try {
    step("subscribe", await sub.subscribe("news", "weather"));
    step("psubscribe", await sub.psubscribe("n*", "w?ather"));
    step("publish news", await pub.publish("news", "hello"));
    step("messages", await pushes.take(2));
    step("publish weather", await pub.publish("weather", Buffer.from([0, 0xff, 0x62])));
    step("messages", await pushes.take(2));
    step("publish nobody", await pub.publish("nobody", "x"));
    step("messages", await pushes.take(1));
    step("numsub", await pub.call("pubsub", "numsub", "news", "weather", "nobody"));
    step("numpat", await pub.call("pubsub", "numpat"));
    step("channels", ((await pub.call("pubsub", "channels")) as string[]).sort());
    step("channels n*", await pub.call("pubsub", "channels", "n*"));
    step("ping while subscribed", await sub.ping("hi"));
    step("unsubscribe", await sub.unsubscribe("news", "never"));
    step("publish news after", await pub.publish("news", "pattern only"));
    step("messages", await pushes.take(1));
    step("punsubscribe", await sub.punsubscribe("n*"));
    // By name: ioredis's bare (p)unsubscribe() waits forever while the other kind remains, on redis-server too.
    step("punsubscribe the rest", await sub.punsubscribe("w?ather"));
    step("unsubscribe the rest", await sub.unsubscribe("weather"));
    step("out of subscribed mode", await sub.call("echo", "back"));
    step("numpat after", await pub.call("pubsub", "numpat"));
    step("numsub after", await pub.call("pubsub", "numsub", "news", "weather"));
    step("publish after", await pub.publish("weather", "nobody left"));
    step("nothing more", await pushes.take(1, 50));
  } finally {
    sub.disconnect();
    pub.disconnect();
  }
  return out;
}

describe("pub/sub acceptance: the same script against redis-server and retopy", () => {
  let redis: RedisServer;
  let server: RetopyServer;
  let retopyPort: number;
  let redisPort: number;

  before(async () => {
    redis = await startRedisServer();
    redisPort = Number(redis.client.options.port);
    // ECHO is a Redis compatibility built-in: the in-process transport, the default.
    server = new RetopyServer(new Application([Nothing]), { logger: false });
    ({ port: retopyPort } = await server.listen({ port: 0 }));
  });

  after(async () => {
    await server?.close({ timeout: 2000 });
    redis?.stop();
  });

  it("redis-py 4.3.4 (psubscribe included): equal transcripts", async () => {
    const run = async (port: number) => {
      const result = await runProgram("/usr/bin/python3", [`${ROOT}test/fixtures/pubsub-script.py`, String(port)], { timeoutMs: 30_000 });
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as unknown[];
    };
    const reference = await run(redisPort);
    // The script is not vacuous: the reference saw messages and pattern messages.
    assert.ok(JSON.stringify(reference).includes('"type": "pmessage"') || JSON.stringify(reference).includes('"pmessage"'), JSON.stringify(reference));
    assert.deepEqual(await run(retopyPort), reference);
  });

  for (const protocol of [2, 3] as const) {
    it(`ioredis, RESP${protocol}: equal transcripts`, async () => {
      const reference = await ioredisScript(redisPort, protocol);
      assert.ok(JSON.stringify(reference).includes('["pmessage","n*","news","hello"]'), JSON.stringify(reference));
      assert.deepEqual(await ioredisScript(retopyPort, protocol), reference);
    });
  }
});

describe("two retopy processes sharing one redis-server (--pubsub)", () => {
  let redis: RedisServer;
  const processes: CliProcess[] = [];
  const clients: Redis[] = [];
  let ports: number[] = [];

  before(async () => {
    redis = await startRedisServer();
    const url = `redis://127.0.0.1:${redis.client.options.port}`;
    for (let i = 0; i < 2; i++) processes.push(new CliProcess(["serve", "examples/chat.ts", "--port", "0", "--log-format", "json", "--pubsub", url]));
    ports = await Promise.all(processes.map((p) => p.port()));
  });

  after(() => {
    for (const client of clients) client.disconnect();
    for (const process of processes) process.kill();
    redis?.stop();
  });

  const connect = async (port: number) => {
    const client = await connectRedis(port, { protocol: 2 });
    clients.push(client);
    return client;
  };

  it("a subscriber on one gets what is published on the other, patterns too, each publisher's order kept", async () => {
    const sub = await connect(ports[0]!);
    const pubElsewhere = await connect(ports[1]!);
    const pubHere = await connect(ports[0]!);
    const pushes = pushLog(sub);
    assert.equal(await sub.subscribe("room"), 1);
    assert.equal(await sub.psubscribe("ro*"), 2);
    // Redis's count: the subscribing process, once for the channel and once for the pattern.
    assert.equal(await pubElsewhere.publish("room", "hi from B"), 2);
    assert.deepEqual(await pushes.take(2), [
      ["message", "room", "hi from B"],
      ["pmessage", "ro*", "room", "hi from B"],
    ]);
    assert.deepEqual(await pubElsewhere.call("pubsub", "numsub", "room"), ["room", 1]);
    assert.equal(await pubElsewhere.call("pubsub", "numpat"), 1);

    const N = 200;
    const burst = (pub: Redis, tag: string) => {
      const pipeline = pub.pipeline();
      for (let i = 0; i < N; i++) pipeline.publish("room", `${tag}${i}`);
      return pipeline.exec();
    };
    const results = await Promise.all([burst(pubElsewhere, "b"), burst(pubHere, "a")]);
    for (const result of results) assert.ok(result!.every(([error, count]) => error === null && count === 2), JSON.stringify(result!.slice(0, 3)));
    const got = await pushes.take(4 * N, 15_000);
    assert.equal(got.length, 4 * N);
    for (const kind of ["message", "pmessage"]) {
      for (const tag of ["a", "b"]) {
        const messages = got.filter((push) => push[0] === kind && push.at(-1)!.startsWith(tag)).map((push) => push.at(-1));
        assert.deepEqual(messages, Array.from({ length: N }, (_, i) => `${tag}${i}`), `${kind} from ${tag}`);
      }
    }
  });
});
