/**
 * Pub/sub under `retopy serve --workers 2` with no --pubsub: the primary's relay is the
 * default transport, so a message published on one worker reaches subscribers on the other,
 * and PUBLISH's count and PUBSUB answer for both workers (the chat example, through the CLI).
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Redis } from "ioredis";
import { CliProcess } from "./cli-process.js";
import { nextPushes } from "./redis-support.js";
import { TextClient } from "./support.js";

const children: CliProcess[] = [];
const clients: Array<{ disconnect(): void } | TextClient> = [];
after(() => {
  for (const client of clients) client instanceof TextClient ? client.close() : client.disconnect();
  for (const child of children) child.kill();
});

/** An ioredis client and the worker it landed on (INFO's `worker_id`: the worker that answered). */
async function onWorker(port: number): Promise<{ redis: Redis; pid: string }> {
  const redis = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  clients.push(redis);
  await redis.connect();
  const pid = /worker_id:(\d+)/.exec(await redis.info("workers"))?.[1];
  assert.ok(pid, "INFO workers names the worker that answered");
  return { redis, pid };
}

test("--workers 2 relays pub/sub between the workers by default: messages, patterns, counts; the chat example across workers", async () => {
  const child = new CliProcess(["serve", "examples/chat.ts", "--port", "0", "--log-format", "json", "--workers", "2"]);
  children.push(child);
  const port = (await child.waitForLog("workers listening", 30_000)).port as number;

  // Round-robin: consecutive connections alternate; keep one subscriber and one publisher per worker.
  const a = await onWorker(port);
  let b = await onWorker(port);
  for (let i = 0; i < 4 && b.pid === a.pid; i++) b = await onWorker(port);
  assert.notEqual(a.pid, b.pid, "two connections on different workers");

  const subscriber = a.redis.duplicate();
  clients.push(subscriber);
  assert.equal(await subscriber.subscribe("news"), 1);
  assert.equal(await subscriber.psubscribe("ne*"), 2);
  const messages = nextPushes(subscriber, "message", 2);
  const pmessages = nextPushes(subscriber, "pmessage", 2);
  // Published on worker b; the subscriber's connection is a's duplicate (its worker is a's or b's: either way the relay carries it when it is not b's).
  assert.equal(await b.redis.publish("news", "one"), 2, "one channel and one pattern subscription, counted over both workers");
  assert.equal(await a.redis.publish("news", "two"), 2);
  assert.deepEqual(await messages, [["news", "one"], ["news", "two"]]);
  assert.deepEqual(await pmessages, [["ne*", "news", "one"], ["ne*", "news", "two"]]);
  assert.deepEqual(await b.redis.pubsub("NUMSUB", "news"), ["news", 1]);
  assert.equal(await a.redis.pubsub("NUMPAT"), 1);
  assert.deepEqual(await b.redis.pubsub("CHANNELS"), ["news"]);

  // The chat example in the text protocol: ada on one worker, bob on the other.
  const chatters: TextClient[] = [];
  const pids = new Set<string>();
  for (let i = 0; i < 6 && pids.size < 2; i++) {
    const client = await TextClient.connect(port);
    clients.push(client);
    // INFO does not stand in for the handshake line (a telnet user's first line): send one first.
    client.send("chat");
    client.send("info workers");
    // INFO in the text protocol: the section as lines; read up to worker_id.
    let text = "";
    for (let lines = 0; !/worker_id:\d+/.test(text) && lines < 20; lines++) text += `\n${await client.readLine(10_000)}`;
    const pid = /worker_id:(\d+)/.exec(text)?.[1];
    assert.ok(pid, text);
    await settle(client);
    if (!pids.has(pid)) {
      pids.add(pid);
      chatters.push(client);
    }
  }
  assert.equal(chatters.length, 2, "chatters on both workers");
  const [ada, bob] = chatters as [TextClient, TextClient];
  assert.equal(await ada.command("nick ada"), "+OK");
  assert.equal(await bob.command("nick bob"), "+OK");
  assert.equal(await ada.command("join lobby"), "message lobby ada joined");
  assert.equal(await bob.command("join lobby"), "message lobby bob joined");
  assert.equal(await ada.readLine(10_000), "message lobby bob joined");
  assert.equal(await bob.command("say lobby hi ada"), "message lobby bob: hi ada");
  assert.equal(await ada.readLine(10_000), "message lobby bob: hi ada");
  assert.equal(await ada.command("leave lobby"), "message lobby ada left");
  assert.equal(await bob.readLine(10_000), "message lobby ada left");
  assert.equal(await bob.command("say lobby anyone?"), "message lobby bob: anyone?");
  assert.equal(ada.pending.length, 0, "ada left: nothing more for her");
});

/** Reads whatever rest of a multi-line reply is still coming, until the line goes quiet. */
async function settle(client: TextClient): Promise<void> {
  for (;;) {
    try {
      await client.readLine(200);
    } catch {
      return;
    }
  }
}
