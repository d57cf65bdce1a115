/**
 * When the server closes a connection it has a reply for (a protocol error, `quit`, a
 * shutdown), the reply must reach the client even if the client is still sending. Closing
 * a socket with unread input makes the kernel answer with a reset, and a reset throws away
 * what the client had received but not yet read: the very error line that says why.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { Application, CommandHandler, command, status, type Status } from "../../src/index.js";
import { useTestBed } from "../support.js";

class Basics extends CommandHandler {
  @command({ help: "Replies PONG." })
  ping(): Status {
    return status("PONG");
  }
}

/** Sends `request` then `trailer` at once, reads nothing for a while, then everything. */
async function sendAndReadLate(port: number, request: string, trailer: Buffer): Promise<{ text: string; error: string | null }> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.pause();
  let error: string | null = null;
  socket.on("error", (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  socket.write(Buffer.concat([Buffer.from(request, "latin1"), trailer]));
  await sleep(200); // the server replies and closes meanwhile
  let text = "";
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => (text += chunk));
  socket.resume();
  await Promise.race([once(socket, "close"), sleep(3000)]);
  socket.destroy();
  return { text, error };
}

describe("a close never loses the reply that explains it", () => {
  const bed = useTestBed();
  // Far more than Node and the kernel buffer: much of it is still unread when the server closes.
  const trailer = Buffer.alloc(4 * 1024 * 1024, 0x61);

  it("a protocol error followed by more input: the error line arrives, then a clean close", async () => {
    const port = await bed.serve(new Application([Basics]));
    for (let i = 0; i < 5; i++) {
      const { text, error } = await sendAndReadLate(port, "*1\r\n$x\r\n", trailer);
      assert.equal(text, "-ERR Protocol error: invalid bulk length\r\n", `run ${i}`);
      assert.equal(error, null, `run ${i}: the connection was reset`);
    }
  });

  it("quit with more commands pipelined behind it: +OK arrives", async () => {
    const port = await bed.serve(new Application([Basics]));
    for (let i = 0; i < 5; i++) {
      const { text, error } = await sendAndReadLate(port, "ping\r\nquit\r\n", Buffer.from("ping\r\n".repeat(600_000)));
      assert.equal(text, "+PONG\r\n+OK\r\n", `run ${i}`);
      assert.equal(error, null, `run ${i}: the connection was reset`);
    }
  });
});
