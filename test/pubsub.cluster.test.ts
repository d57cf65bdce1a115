/**
 * The cluster relay transport on a real node:cluster deployment (test/fixtures/pubsub-cluster.ts:
 * a primary running relayPubSub and 2 workers sharing one port), through ioredis: subscribers
 * on one worker, publishers on the other, patterns, deployment-wide counts, order per
 * publisher and channel, and a worker that dies taking its subscriptions with it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { Application, ClusterRelayTransport, CommandHandler, command, RetopyServer } from "../src/index.js";
import { connectRedis, nextPushes } from "./redis-support.js";
import { ROOT } from "./cli-process.js";

class Nothing extends CommandHandler {
  @command({ help: "Replies 0." })
  nothing(): number {
    return 0;
  }
}

/** Starts the fixture and resolves with its port, or rejects with its output after 20 s. */
async function startCluster(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/pubsub-cluster.ts"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cluster fixture did not start: ${err}`)), 20_000);
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (!line) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the cluster fixture exited (${code}): ${err}`));
    });
  });
  return { child, port };
}


describe("pub/sub over the cluster relay (2 node:cluster workers)", () => {
  let cluster: { child: ChildProcess; port: number };
  const clients: Redis[] = [];

  before(async () => {
    cluster = await startCluster();
  });

  after(async () => {
    for (const client of clients) client.disconnect();
    if (cluster?.child.exitCode === null) {
      cluster.child.kill("SIGTERM");
      await once(cluster.child, "exit");
    }
  });

  /** A client on worker `worker` (1 or 2): the primary hands connections round robin, so a few tries find one. */
  async function on(worker: number): Promise<Redis> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const client = await connectRedis(cluster.port, { protocol: 2 });
      if ((await client.call("whoami")) === worker) {
        clients.push(client);
        return client;
      }
      client.disconnect();
    }
    throw new Error(`no connection landed on worker ${worker} in 20 tries`);
  }

  it("a message published on one worker reaches subscribers and patterns on the other; counts are the deployment's", async () => {
    const sub = await on(1);
    const pub = await on(2);
    const local = await on(2);
    assert.equal(await sub.subscribe("news"), 1);
    assert.equal(await sub.psubscribe("ne*"), 2);
    assert.equal(await local.subscribe("news"), 1);

    const messages = nextPushes(sub, "message", 1);
    const pmessages = nextPushes(sub, "pmessage", 1);
    const atLocal = nextPushes(local, "message", 1);
    // Worker 1: a channel subscriber and a pattern match; worker 2: one channel subscriber.
    assert.equal(await pub.publish("news", "hello"), 3);
    assert.deepEqual(await messages, [["news", "hello"]]);
    assert.deepEqual(await pmessages, [["ne*", "news", "hello"]]);
    assert.deepEqual(await atLocal, [["news", "hello"]]);

    for (const asker of [pub, await on(1)]) {
      assert.deepEqual(await asker.call("pubsub", "numsub", "news", "nobody"), ["news", 2, "nobody", 0]);
      assert.equal(await asker.call("pubsub", "numpat"), 1);
      assert.deepEqual(await asker.call("pubsub", "channels", "n*"), ["news"]);
    }
    assert.equal(await pub.publish("nothing-here", "x"), 0);
    const patternOnly = nextPushes(sub, "pmessage", 1);
    assert.equal(await pub.publish("nest", "matched by the pattern only"), 1);
    assert.deepEqual(await patternOnly, [["ne*", "nest", "matched by the pattern only"]]);

    assert.equal(await sub.punsubscribe("ne*"), 1);
    assert.equal(await local.unsubscribe("news"), 0);
    assert.equal(await pub.call("pubsub", "numpat"), 0);
    const last = nextPushes(sub, "message", 1);
    assert.equal(await pub.publish("news", "only sub now"), 1);
    assert.deepEqual(await last, [["news", "only sub now"]]);
    assert.equal(await sub.unsubscribe(), 0);
    assert.deepEqual(await pub.call("pubsub", "numsub", "news"), ["news", 0]);
  });

  it("binary messages cross workers byte for byte", async () => {
    const sub = await on(1);
    const pub = await on(2);
    await sub.subscribe("bytes");
    const bytes = Buffer.from([0, 0xff, 0x0d, 0x0a, 0x80, 0x41]);
    const got = new Promise<Buffer>((resolve) => sub.once("messageBuffer", (_channel: Buffer, message: Buffer) => resolve(message)));
    assert.equal(await pub.publish("bytes", bytes), 1);
    assert.deepEqual(await got, bytes);
    await sub.unsubscribe();
  });

  it("keeps each publisher's order per channel over a pipelined burst, from two workers at once", async () => {
    const sub = await on(1);
    const [pubA, pubB] = [await on(2), await on(1)];
    await sub.subscribe("burst");
    const N = 300;
    const received = nextPushes(sub, "message", 2 * N, 15_000);
    const send = (pub: Redis, tag: string) => {
      const pipeline = pub.pipeline();
      for (let i = 0; i < N; i++) pipeline.publish("burst", `${tag}${i}`);
      return pipeline.exec();
    };
    const [a, b] = await Promise.all([send(pubA, "a"), send(pubB, "b")]);
    assert.ok(a!.every(([error, count]) => error === null && count === 1));
    assert.ok(b!.every(([error, count]) => error === null && count === 1));
    const messages = (await received).map(([, message]) => message!);
    for (const tag of ["a", "b"]) {
      assert.deepEqual(messages.filter((m) => m.startsWith(tag)), Array.from({ length: N }, (_, i) => `${tag}${i}`));
    }
    await sub.unsubscribe();
  });

  it("a worker that dies drops its subscriptions from the primary's counts", async () => {
    const doomed = await on(1);
    const survivor = await on(2);
    await doomed.subscribe("doomed");
    await doomed.psubscribe("doom*");
    assert.deepEqual(await survivor.call("pubsub", "numsub", "doomed"), ["doomed", 1]);
    assert.equal(await survivor.call("pubsub", "numpat"), 1);
    // From a second client of the same worker: a subscribed ioredis sends nothing else.
    const killer = await on(1);
    await killer.call("die").catch(() => undefined);
    const deadline = Date.now() + 10_000;
    while ((await survivor.publish("doomed", "anyone?")) !== 0) {
      assert.ok(Date.now() < deadline, "the dead worker's subscriptions stayed counted");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(await survivor.call("pubsub", "numsub", "doomed"), ["doomed", 0]);
    assert.equal(await survivor.call("pubsub", "numpat"), 0);
    assert.deepEqual(await survivor.call("pubsub", "channels"), []);
  });
});

describe("the pubsub option, misused", () => {
  it("the cluster relay outside a node:cluster worker fails listen() and says why", async () => {
    const server = new RetopyServer(new Application([Nothing]), { logger: false, pubsub: new ClusterRelayTransport() });
    await assert.rejects(server.listen({ port: 0 }), /node:cluster worker|primary did not answer/);
    assert.equal(server.address(), null);
    await server.close();
  });

  it("a bad URL or shape is refused at construction, without the password", () => {
    assert.throws(() => new RetopyServer(new Application([Nothing]), { logger: false, pubsub: "http://user:hunter2@host" }), (error: Error) => {
      assert.match(error.message, /RETOPY_INVALID_OPTION: invalid Redis URL .*the scheme must be redis/);
      assert.ok(!error.message.includes("hunter2"));
      return true;
    });
    assert.throws(() => new RetopyServer(new Application([Nothing]), { logger: false, pubsub: { port: -1 } }), /pubsub must be a transport/);
  });
});
