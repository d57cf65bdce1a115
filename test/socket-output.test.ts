/**
 * SocketOutput on a real TCP pair on 127.0.0.1: replies go straight out while the client
 * reads; at the high-water mark the owner hears that the client is behind (and once, until
 * it has caught up); past maxOutputBuffer the owner is told to cut the client.
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
      const output = new SocketOutput(server, { maxOutputBuffer: 0, outputHighWaterMark: 1 << 20 }, { overflow: () => assert.fail("no overflow"), backedUp: () => assert.fail("not behind"), caughtUp: () => undefined });
      output.send("+OK\r\n");
      output.send([Buffer.from("$3\r\n"), Buffer.from("abc\r\n")]);
      const received: Buffer[] = [];
      client.on("data", (chunk: Buffer) => received.push(chunk));
      for (let i = 0; i < 100 && Buffer.concat(received).length < 14; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(Buffer.concat(received).toString(), "+OK\r\n$3\r\nabc\r\n");
      assert.equal(output.blocked(), null);
      assert.equal(output.disposable, true, "nothing held: its owner may let it go");
    } finally {
      close();
    }
  });

  it("tells its owner once when the client falls behind and once when it has caught up, and reports an overflow", async () => {
    const { server, client, close } = await pair();
    try {
      client.pause();
      const overflows: number[] = [];
      const heard: string[] = [];
      const owner = { overflow: (n: number) => overflows.push(n), backedUp: () => heard.push("behind"), caughtUp: () => heard.push("caught up") };
      const output = new SocketOutput(server, { maxOutputBuffer: 64 << 20, outputHighWaterMark: 256 << 10 }, owner);
      const chunk = "x".repeat(64 << 10);
      // Bounded: at most 8 MB, until the kernel's buffers are full and the output blocks.
      for (let i = 0; i < 128 && output.blocked() === null; i++) output.send(chunk);
      const blocked = output.blocked();
      assert.notEqual(blocked, null, "the output is blocked");
      assert.equal(output.disposable, false, "behind: its owner must keep it (the backlog, the promise)");
      output.send(chunk); // still behind: no second report
      assert.deepEqual(heard, ["behind"]);
      client.resume();
      await blocked;
      assert.deepEqual(heard, ["behind", "caught up"], "caught up once the client read");
      assert.equal(output.blocked(), null);
      assert.equal(output.disposable, false, "it made a backlog and listens for drains: still not disposable");
      assert.equal(overflows.length, 0);

      const small = new SocketOutput(server, { maxOutputBuffer: 1 << 20, outputHighWaterMark: 64 << 10 }, { ...owner, backedUp: () => undefined });
      client.pause();
      for (let i = 0; i < 256 && overflows.length === 0; i++) small.send(chunk);
      assert.equal(overflows.length > 0, true, "the owner heard of the overflow");
      assert.ok(overflows[0]! > 1 << 20);
    } finally {
      close();
    }
  });
});
