/**
 * Output backpressure over real sockets on 127.0.0.1. A client that pipelines commands
 * whose replies are large and does not read them must not make the server buffer without
 * bound: the server stops running that client's commands while its unsent output is above
 * `outputHighWaterMark`, and every reply still arrives, whole and in order, once the client
 * reads. A subscriber that never reads is disconnected past `maxOutputBuffer`, with a log
 * line, while the publisher and everyone else carry on. The limit counts the bytes really
 * held: UTF-8 bytes, not characters, and copies of small payloads, not the reads they came in.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { pino } from "pino";
import { Application, CommandHandler, command, parameter, status, type Status } from "../../src/index.js";
import { useTestBed } from "../support.js";
import { RawClient, resp } from "../wire.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/**
 * This process's live memory (heap and ArrayBuffers) after a full GC: the server runs in it.
 * V8 frees the memory of dead ArrayBuffers on another thread, so it is read after a pause.
 */
async function liveBytes(): Promise<number> {
  gc();
  await sleep(50);
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

const REPLY_BYTES = 32 * 1024;

class Big extends CommandHandler {
  @command({ help: "Replies PONG." })
  ping(): Status {
    return status("PONG");
  }

  /** A 32 KiB line that starts with its index, so order and completeness can be checked. */
  @parameter({ name: "i", type: "int" })
  blob(): string {
    const head = `${this.getArgument<number>("i")}:`;
    return head + "x".repeat(REPLY_BYTES - head.length);
  }
}

/** A raw client that does not read until told to. */
async function openPaused(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.pause();
  return socket;
}

/** Polls until `read()` has not changed for `quietMs` (bounded by `timeoutMs`); returns the value. */
async function settled(read: () => number, quietMs = 300, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(25);
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return now;
  }
  throw new Error(`still changing after ${timeoutMs} ms (last ${last})`);
}

describe("output backpressure", () => {
  const bed = useTestBed();

  it("a client that does not read holds the server to about a high-water mark of output; every reply arrives once it reads", async () => {
    const running = await bed.start(new Application([Big]), { outputHighWaterMark: 64 * 1024, maxOutputBuffer: 0 });
    const COUNT = 2000; // 64 MB of replies for about 20 KB of requests, all in one or two reads
    const client = await openPaused(running.port);
    client.write("ping\r\n");
    client.write(Array.from({ length: COUNT }, (_, i) => `blob ${i}\r\n`).join(""));

    // The server runs commands until its unsent output passes the mark, then waits.
    const ran = await settled(() => running.server.stats().commandCounts.blob ?? 0);
    assert.ok(ran < COUNT / 4, `ran ${ran} of ${COUNT} commands while the client read nothing`);

    // Another client is served meanwhile.
    const other = await bed.open(running.port);
    assert.equal(await other.command("blob 7"), `7:${"x".repeat(REPLY_BYTES - 2)}`);

    // Once the client reads, everything arrives, whole and in order.
    let received = "";
    client.setEncoding("latin1");
    client.on("data", (chunk: string) => (received += chunk));
    client.resume();
    const expected = "+PONG\r\n" + Array.from({ length: COUNT }, (_, i) => `${i}:`.padEnd(REPLY_BYTES, "x") + "\r\n").join("");
    const deadline = Date.now() + 20_000;
    while (received.length < expected.length && Date.now() < deadline) await sleep(20);
    assert.equal(received.length, expected.length);
    assert.ok(received === expected, "replies arrived whole and in order");
    assert.equal(running.server.stats().commandCounts.blob, COUNT + 1);
    client.destroy();
  });

  it("a subscriber that never reads is cut off past maxOutputBuffer, with a log line; the publisher is unaffected", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const running = await bed.start(new Application([Big]), {
      outputHighWaterMark: 64 * 1024,
      maxOutputBuffer: 1024 * 1024,
      logger: pino({ level: "warn" }, sink),
    });
    const subscriber = await openPaused(running.port);
    subscriber.write("subscribe firehose\r\n");
    await sleep(50);
    const publisher = await bed.open(running.port);
    const message = "m".repeat(32 * 1024); // under the 64 KiB inline limit
    let cut = false;
    // Bounded: 32 KiB a message, far past what the kernel's socket buffers and the limit can hold.
    for (let i = 0; i < 2000 && !cut; i++) {
      const receivers = await publisher.command(`publish firehose ${message}`);
      cut = receivers === "0";
    }
    assert.ok(cut, "the subscriber was disconnected");
    assert.equal(await publisher.command("ping"), "+PONG");
    assert.ok(lines.some((line) => line.includes("output buffer limit reached")), `log: ${lines.join("")}`);
    subscriber.destroy();
  });

  it("a subscriber that never reads is cut once the UTF-8 bytes it is owed pass maxOutputBuffer, not its characters", async () => {
    const limit = 4 * 1024 * 1024;
    const running = await bed.start(new Application([Big]), { outputHighWaterMark: 64 * 1024, maxOutputBuffer: limit, logger: false });
    /** Publishes `text` to a fresh never-reading subscriber until it is cut; the bytes it was sent by then. */
    const owedWhenCut = async (channel: string, text: string): Promise<number> => {
      const subscriber = await openPaused(running.port);
      subscriber.write(`subscribe ${channel}\r\n`);
      await sleep(50);
      const publisher = await bed.open(running.port);
      const pushBytes = Buffer.byteLength(`message ${channel} ${text}\r\n`);
      let delivered = 0;
      // Bounded: 5,000 messages of 30 KB, far past the kernel's buffers and 3× the limit.
      for (let i = 0; i < 5000; i++) {
        if ((await publisher.command(`publish ${channel} ${text}`)) === "0") break;
        delivered++;
      }
      assert.ok(delivered < 5000, `the ${channel} subscriber was never cut`);
      subscriber.destroy();
      publisher.close();
      return delivered * pushBytes;
    };
    // The same 30 KB per push: 30,000 ASCII characters, or 10,000 of 3 bytes each. Both were
    // sent what the kernel's socket buffers hold plus the limit; counting characters let the
    // second be sent three times the limit.
    const ascii = await owedWhenCut("plain", "m".repeat(30_000));
    const wide = await owedWhenCut("wide", "€".repeat(10_000));
    const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
    assert.ok(wide < ascii + limit / 2, `cut after ${mb(wide)} MB of 3-byte characters, ${mb(ascii)} MB of ASCII (limit ${mb(limit)} MB)`);
  });

  it("small PUBLISH payloads next to large ones are held for a never-reading subscriber as copies, not as the reads they came in", async () => {
    const running = await bed.start(new Application([Big]), { maxOutputBuffer: 0, logger: false });
    const subscriber = await openPaused(running.port);
    subscriber.write(resp("SUBSCRIBE", "news"));
    await sleep(50);
    const publisher = await RawClient.connect(running.port);
    const publish = async (requests: Buffer, count: number) => {
      publisher.write(requests);
      return publisher.lines(count, 10_000);
    };
    // Fill the kernel's socket buffers first, until the server itself holds about 1 MB for the subscriber.
    const start = await liveBytes();
    let filled = false;
    for (let i = 0; i < 500 && !filled; i++) {
      await publish(resp("PUBLISH", "news", "p".repeat(60 * 1024)), 1);
      filled = i % 8 === 7 && (await liveBytes()) - start > 1024 * 1024;
    }
    assert.ok(filled, "the server never held output for the subscriber");
    // 1,000 messages of 100 bytes, each in a network read with a 60 KB one: 130 KB to hold.
    const before = await liveBytes();
    const pair = Buffer.concat([resp("PUBLISH", "news", "n".repeat(100)), resp("PUBLISH", "nobody", "x".repeat(60 * 1024))]);
    for (let i = 0; i < 100; i++) {
      const replies = await publish(Buffer.concat(Array.from({ length: 10 }, () => pair)), 20);
      assert.deepEqual(replies.slice(0, 2), [":1", ":0"]);
    }
    const grown = (await liveBytes()) - before;
    // Each held read would be 64 KB: 64 MB for these.
    assert.ok(grown < 8 * 1024 * 1024, `holding 1,000 messages of 100 bytes took ${(grown / 1048576).toFixed(1)} MB`);
    subscriber.destroy();
    publisher.destroy();
  });
});
