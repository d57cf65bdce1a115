/**
 * SocketOutput on a real TCP pair on 127.0.0.1: replies go straight out while the client
 * reads, reading pauses at the high-water mark and resumes once it has caught up, and
 * past maxOutputBuffer the owner is told to cut the client.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, connect, type Socket } from "node:net";
import { describe, it } from "node:test";
import { SocketOutput } from "../src/socket-output.js";

async function pair(): Promise<{ server: Socket; client: Socket; close: () => void }> {
  const listener = createServer();
  listener.listen(0, "127.0.0.1");
  await once(listener, "listening");
  const { port } = listener.address() as { port: number };
  const client = connect(port, "127.0.0.1");
  const [server] = (await once(listener, "connection")) as [Socket];
  return {
    server,
    client,
    close: () => {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

describe("SocketOutput", () => {
  it("writes at once to a client that reads", async () => {
    const { server, client, close } = await pair();
    try {
      const output = new SocketOutput(server, { maxOutputBuffer: 0, outputHighWaterMark: 1 << 20 }, { overflow: () => assert.fail("no overflow"), mayResume: () => true });
      output.send("+OK\r\n");
      output.send([Buffer.from("$3\r\n"), Buffer.from("abc\r\n")]);
      const received: Buffer[] = [];
      client.on("data", (chunk: Buffer) => received.push(chunk));
      for (let i = 0; i < 100 && Buffer.concat(received).length < 14; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(Buffer.concat(received).toString(), "+OK\r\n$3\r\nabc\r\n");
      assert.equal(output.blocked(), null);
    } finally {
      close();
    }
  });

  it("pauses reading above the high-water mark, resumes when the client catches up, and reports an overflow", async () => {
    const { server, client, close } = await pair();
    try {
      client.pause();
      const overflows: number[] = [];
      const output = new SocketOutput(server, { maxOutputBuffer: 64 << 20, outputHighWaterMark: 256 << 10 }, { overflow: (n) => overflows.push(n), mayResume: () => true });
      const chunk = "x".repeat(64 << 10);
      // Bounded: at most 8 MB, until the kernel's buffers are full and the output blocks.
      for (let i = 0; i < 128 && output.blocked() === null; i++) output.send(chunk);
      const blocked = output.blocked();
      assert.notEqual(blocked, null, "reading paused");
      assert.equal(server.isPaused(), true);
      client.resume();
      await blocked;
      assert.equal(server.isPaused(), false, "resumed once the client read");
      assert.equal(overflows.length, 0);

      const small = new SocketOutput(server, { maxOutputBuffer: 1 << 20, outputHighWaterMark: 64 << 10 }, { overflow: (n) => overflows.push(n), mayResume: () => false });
      client.pause();
      for (let i = 0; i < 256 && overflows.length === 0; i++) small.send(chunk);
      assert.equal(overflows.length > 0, true, "the owner heard of the overflow");
      assert.ok(overflows[0]! > 1 << 20);
    } finally {
      close();
    }
  });
});
