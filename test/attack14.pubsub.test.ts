/**
 * Outside-review attacks on pub/sub (issue 14). Channel and pattern names are UTF-8 strings
 * in retopy (docs/pubsub.md): a RESP name that is not valid UTF-8 used to be decoded with
 * U+FFFD in place of its bad bytes, so SUBSCRIBE \xff and PUBLISH \xfe met on the same
 * channel ("\uFFFD") and the confirmation named a channel the client never asked for. Such a
 * name is now refused with a clear error, and valid UTF-8 names keep working.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Application, CommandHandler, command } from "../src/index.js";
import { type TextClient, useTestBed } from "./support.js";
import { connectRedis } from "./redis-support.js";
import { resp } from "./wire.js";

class Tools extends CommandHandler {
  @command({ help: "Replies +PONG." })
  ping(): string {
    return "+PONG";
  }
}

const NOT_UTF8 = /^-ERR .*not valid UTF-8/;

describe("attack 14: pub/sub names that are not UTF-8", () => {
  const bed = useTestBed();

  it("SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUBLISH and PUBSUB refuse a name that is not UTF-8; the connection goes on", async () => {
    const running = await bed.start(new Application([Tools]));
    const sub: TextClient = await bed.open(running.port);
    sub.write(resp("SUBSCRIBE", Buffer.from([0xff])));
    assert.match(await sub.readLine(), NOT_UTF8);
    sub.write(resp("SUBSCRIBE", "ok", Buffer.from([0x61, 0xc0])));
    assert.match(await sub.readLine(), NOT_UTF8, "one bad name refuses the whole command");
    sub.write(resp("PSUBSCRIBE", Buffer.from([0x61, 0xff, 0x2a])));
    assert.match(await sub.readLine(), NOT_UTF8);
    sub.write(resp("UNSUBSCRIBE", Buffer.from([0xfe])));
    assert.match(await sub.readLine(), NOT_UTF8);
    sub.write(resp("PUNSUBSCRIBE", Buffer.from([0xfe])));
    assert.match(await sub.readLine(), NOT_UTF8);
    sub.write(resp("PUBSUB", "NUMSUB", Buffer.from([0xfe])));
    assert.match(await sub.readLine(), NOT_UTF8);
    sub.write(resp("PUBSUB", "CHANNELS", Buffer.from([0xfe, 0x2a])));
    assert.match(await sub.readLine(), NOT_UTF8);
    // Nothing was subscribed by the refused commands.
    assert.equal(running.server.pubsub.subscribers("ok").length, 0);
    assert.equal(running.server.pubsub.subscribers("\uFFFD").length, 0);
    sub.write(resp("PING"));
    assert.deepEqual(await sub.readLines(2), ["$5", "+PONG"], "the app's ping, a bulk string over RESP");

    const pub = await connectRedis(running.port);
    try {
      await assert.rejects(pub.publish(Buffer.from([0xfe]), "m"), /not valid UTF-8/);
      // A message stays binary-safe: only names must be UTF-8.
      assert.equal(await pub.publish("ok", Buffer.from([0xff, 0xfe])), 0);
    } finally {
      pub.disconnect();
    }
  });

  it("two different non-UTF-8 channels never meet, and UTF-8 names round-trip byte for byte", async () => {
    const running = await bed.start(new Application([Tools]));
    const sub = await connectRedis(running.port);
    const pub = await connectRedis(running.port);
    try {
      await assert.rejects(sub.subscribe(Buffer.from([0xff]) as unknown as string), /not valid UTF-8/);
      await assert.rejects(pub.publish(Buffer.from([0xfe]), "leak"), /not valid UTF-8/);
      const received = new Promise<[Buffer, Buffer]>((resolve) => sub.once("messageBuffer", (channel: Buffer, message: Buffer) => resolve([channel, message])));
      await sub.subscribe("café ☕");
      assert.equal(await pub.publish("café ☕", Buffer.from([0x00, 0xff])), 1);
      const [channel, message] = await received;
      assert.deepEqual(channel, Buffer.from("café ☕"));
      assert.deepEqual(message, Buffer.from([0x00, 0xff]));
    } finally {
      sub.disconnect();
      pub.disconnect();
    }
  });
});
