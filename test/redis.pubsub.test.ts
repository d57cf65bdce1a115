/**
 * Pub/sub through a real Redis client: ioredis subscribes (over RESP2 and over its default
 * RESP3, where the confirmations and messages are push frames), receives what another
 * ioredis client publishes, and stops receiving once it unsubscribes. A raw socket checks
 * the exact bytes of the pushes and their order around replies.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis, type RedisOptions } from "ioredis";
import { Application, CommandHandler, command, parameter, status, type Status } from "../src/index.js";
import { decodeReplies, type RespValue } from "./resp-decoder.js";
import { connectRedis } from "./redis-support.js";
import { eventually, rawLength, type Running, type TextClient, useTestBed } from "./support.js";

class Basics extends CommandHandler {
  @command({ help: "Replies PONG." })
  ping(): Status {
    return status("PONG");
  }

  @parameter({ name: "n", type: "int" })
  @command({ help: "Replies n." })
  echo(): number {
    return this.getArgument<number>("n");
  }
}

/** A RESP request as bytes. */
function resp(...argv: string[]): string {
  return `*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}


/** Sends `request` and returns exactly the `expected.length` characters that follow, checked. */
async function exchange(client: TextClient, request: string, expected: string): Promise<void> {
  const start = client.raw.length;
  client.write(request);
  const raw = await rawLength(client, start + expected.length);
  assert.equal(raw.slice(start), expected);
}

/** Resolves with the next `count` `message` events of `redis`, or rejects after `timeoutMs`. */
function nextMessages(redis: Redis, count: number, timeoutMs = 3000): Promise<Array<[string, string]>> {
  return new Promise((resolve, reject) => {
    const got: Array<[string, string]> = [];
    const onMessage = (channel: string, message: string) => {
      got.push([channel, message]);
      if (got.length === count) done();
    };
    const timer = setTimeout(() => {
      redis.off("message", onMessage);
      reject(new Error(`timed out after ${got.length}/${count} messages: ${JSON.stringify(got)}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      redis.off("message", onMessage);
      resolve(got);
    };
    redis.on("message", onMessage);
  });
}

describe("pub/sub through ioredis and raw RESP", () => {
  const bed = useTestBed();
  const clients: Redis[] = [];
  let running: Running;
  let port = 0;

  before(async () => {
    running = await bed.start(new Application([Basics]));
    port = running.port;
  });

  after(() => {
    for (const client of clients) client.disconnect();
  });

  /** A client that fails fast instead of retrying, closed when the suite ends. */
  async function connect(options: RedisOptions = {}): Promise<Redis> {
    const client = await connectRedis(port, options);
    clients.push(client);
    return client;
  }

  for (const protocol of [2, 3] as const) {
    const label = protocol === 2 ? "RESP2 (protocol: 2)" : "RESP3 (ioredis's default)";
    const options: RedisOptions = protocol === 2 ? { protocol: 2 } : {};

    it(`${label}: subscribe, receive what is published, unsubscribe stops delivery`, async () => {
      const channel = `news${protocol}`;
      const sub = await connect(options);
      const pub = await connect(options);
      assert.equal(await sub.subscribe(channel), 1);
      assert.equal(await sub.subscribe(`${channel}.b`, `${channel}.c`), 3);

      const received = nextMessages(sub, 3);
      assert.equal(await pub.publish(channel, "hello"), 1);
      assert.equal(await pub.publish(`${channel}.c`, "héllo wörld"), 1);
      assert.equal(await pub.publish(channel, "again"), 1);
      assert.deepEqual(await received, [
        [channel, "hello"],
        [`${channel}.c`, "héllo wörld"],
        [channel, "again"],
      ]);

      // Binary-safe both ways.
      const bytes = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a]);
      const binary = new Promise<Buffer>((resolve) => sub.once("messageBuffer", (_channel: Buffer, message: Buffer) => resolve(message)));
      assert.equal(await pub.publish(channel, bytes), 1);
      assert.deepEqual(await binary, bytes);

      assert.deepEqual(await pub.call("pubsub", "numsub", channel, `${channel}.b`, "nobody"), [channel, 1, `${channel}.b`, 1, "nobody", 0]);
      const channels = (await pub.call("pubsub", "channels", `${channel}*`)) as string[];
      assert.deepEqual([...channels].sort(), [channel, `${channel}.b`, `${channel}.c`]);

      assert.equal(await sub.unsubscribe(channel), 2);
      const late: string[] = [];
      sub.on("message", (_c: string, m: string) => late.push(m));
      assert.equal(await pub.publish(channel, "nobody hears this"), 0);
      assert.equal(await pub.publish(`${channel}.b`, "still subscribed here"), 1);
      await eventually(() => late.length === 1, 2000, "the message on the channel still subscribed");
      assert.deepEqual(late, ["still subscribed here"]);

      assert.equal(await sub.unsubscribe(), 0);
      assert.equal(await pub.publish(`${channel}.b`, "gone"), 0);
      // Out of subscriber mode: ordinary commands work again.
      assert.equal(await sub.ping(), "PONG");
      assert.equal(await sub.call("echo", "7"), 7);
      assert.deepEqual(late, ["still subscribed here"]);
    });

    it(`${label}: two subscribers each get a message once; a subscriber that quits stops counting`, async () => {
      const channel = `room${protocol}`;
      const [a, b, pub] = await Promise.all([connect(options), connect(options), connect(options)]);
      assert.equal(await a.subscribe(channel), 1);
      assert.equal(await b.subscribe(channel), 1);
      const atA = nextMessages(a, 1);
      const atB = nextMessages(b, 1);
      assert.equal(await pub.publish(channel, "to both"), 2);
      assert.deepEqual(await atA, [[channel, "to both"]]);
      assert.deepEqual(await atB, [[channel, "to both"]]);

      assert.equal(await b.quit(), "OK");
      await eventually(() => running.server.pubsub.subscriberCount(channel) === 1, 2000, "the quitting subscriber to leave");
      assert.deepEqual(await pub.call("pubsub", "numsub", channel), [channel, 1]);
      assert.equal(await pub.publish(channel, "to a"), 1);
      a.disconnect();
      await eventually(() => running.server.pubsub.subscriberCount(channel) === 0, 2000, "the disconnected subscriber to leave");
      assert.equal(await pub.publish(channel, "to nobody"), 0);
      assert.deepEqual(running.server.pubsub.channels(channel), []);
    });
  }

  it("raw RESP3: HELLO 3, then SUBSCRIBE c answers exactly one push", async () => {
    const sub = await bed.open(port);
    sub.write(resp("HELLO", "3"));
    await eventually(() => sub.raw.length > 0 && sub.raw.endsWith("*0\r\n"), 2000, "the HELLO map (ending in modules: empty array)");
    const hello = decodeReplies(Buffer.from(sub.raw));
    assert.equal(hello.length, 1);
    assert.equal(hello[0]!.t, "map");

    await exchange(sub, resp("SUBSCRIBE", "c"), ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
    await exchange(sub, resp("SUBSCRIBE", "d", "c"), ">3\r\n$9\r\nsubscribe\r\n$1\r\nd\r\n:2\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:2\r\n");

    // A message from another connection.
    const pub = await bed.open(port);
    await exchange(pub, resp("PUBLISH", "c", "hi"), ":1\r\n");
    await eventually(() => sub.raw.endsWith(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n"), 2000, "the message push");

    // Its own PUBLISH to a channel it listens to: the push first, then the reply (as Redis).
    await exchange(
      sub,
      resp("ECHO", "5") + resp("PUBLISH", "d", "x") + resp("ECHO", "6"),
      ":5\r\n>3\r\n$7\r\nmessage\r\n$1\r\nd\r\n$1\r\nx\r\n:1\r\n:6\r\n",
    );

    // Every channel, in the order they were subscribed.
    await exchange(
      sub,
      resp("UNSUBSCRIBE"),
      ">3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:1\r\n>3\r\n$11\r\nunsubscribe\r\n$1\r\nd\r\n:0\r\n",
    );
    // Nothing to leave: a null channel, as Redis answers.
    await exchange(sub, resp("UNSUBSCRIBE"), ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
    // PUBSUB NUMSUB is a map in RESP3.
    await exchange(sub, resp("PUBSUB", "NUMSUB", "c"), "%1\r\n$1\r\nc\r\n:0\r\n");
    const all = decodeReplies(Buffer.from(sub.raw));
    assert.ok(all.some((v: RespValue) => v.t === "push"));
  });

  it("raw RESP2: pushes are plain arrays, the null channel is $-1", async () => {
    const sub = await bed.open(port);
    await exchange(sub, resp("SUBSCRIBE", "r2"), "*3\r\n$9\r\nsubscribe\r\n$2\r\nr2\r\n:1\r\n");
    const pub = await bed.open(port);
    await exchange(pub, resp("PUBLISH", "r2", "yo"), ":1\r\n");
    await eventually(() => sub.raw.endsWith("*3\r\n$7\r\nmessage\r\n$2\r\nr2\r\n$2\r\nyo\r\n"), 2000, "the message");
    await exchange(sub, resp("UNSUBSCRIBE", "r2"), "*3\r\n$11\r\nunsubscribe\r\n$2\r\nr2\r\n:0\r\n");
    await exchange(sub, resp("UNSUBSCRIBE"), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    await exchange(sub, resp("PUBSUB", "NUMSUB", "r2"), "*2\r\n$2\r\nr2\r\n:0\r\n");
    assert.deepEqual(decodeReplies(Buffer.from(sub.raw), { version: 2 }).length, 5);
  });
});
