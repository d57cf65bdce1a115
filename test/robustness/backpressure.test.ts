/**
 * Output backpressure over real sockets on 127.0.0.1. A client that pipelines commands
 * whose replies are large and does not read them must not make the server buffer without
 * bound: the server stops running that client's commands while its unsent output is above
 * `outputHighWaterMark`, and every reply still arrives, whole and in order, once the client
 * reads. A subscriber that never reads is disconnected past `maxOutputBuffer`, with a log
 * line, while the publisher and everyone else carry on.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { pino } from "pino";
import { Application, CommandHandler, command, parameter, status, type Status } from "../../src/index.js";
import { useTestBed } from "../support.js";

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
});
