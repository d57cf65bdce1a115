/**
 * The client's socket (src/client/socket.ts) on its own, over real loopback sockets: the
 * handshake against a RetopyServer (header line, HELLO 3 or RESP2, COMMAND DOCS), writes of
 * one tick leaving together, replies split across reads, and what it reports when the peer
 * (a plain TCP server standing in for a broken one) sends bytes that are not RESP or hangs up.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { Application, CommandHandler, parameter } from "../src/index.js";
import { ClientError, type Reply, RetopyClient } from "../src/client/index.js";
import { PendingCalls } from "../src/client/pending-calls.js";
import type { Call } from "../src/client/pipeline.js";
import { ClientSocket, handshake, type SocketListener, withTimeout } from "../src/client/socket.js";
import { encodeRequest } from "../src/protocol/encode-request.js";
import type { RespFrame } from "../src/protocol/resp-reader.js";
import { eventually, type Running, startServer } from "./support.js";

class Greeter extends CommandHandler {
  @parameter({ name: "key" })
  field() {
    return this.connection.header[this.getArgument("key")] ?? null;
  }
}

/** What a ClientSocket reported, and a way to call over it through a real pending queue. */
function record(socket: ClientSocket) {
  const frames: RespFrame[] = [];
  const malformed: ClientError[] = [];
  const gone: ClientError[] = [];
  const pending = new PendingCalls();
  const listener: SocketListener = {
    frame: (frame) => {
      frames.push(frame);
      if (!frame.push) pending.settleNext(frame.value as Buffer);
    },
    malformed: (error) => malformed.push(error),
    gone: (error) => gone.push(error),
  };
  socket.listen(listener);
  const send = (calls: readonly Call[]) => {
    const promises = calls.map(({ buffers }) => pending.add(buffers, {}));
    for (const { args } of calls) socket.write(encodeRequest(args));
    return promises;
  };
  return { frames, malformed, gone, pending, send };
}

/** A plain TCP server on 127.0.0.1 that hands each accepted socket to `onSocket`. */
async function rawServer(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as { port: number }).port };
}

describe("client socket", () => {
  let retopy: Running;
  const raw: Server[] = [];
  const sockets: ClientSocket[] = [];
  const open = async (port: number) => {
    const socket = await ClientSocket.open({ port });
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    retopy = await startServer(new Application([Greeter]));
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    for (const server of raw) server.close();
    await retopy.close();
  });

  it("handshakes with a RetopyServer: the header line (quoted where needed), HELLO 3 with SETNAME, COMMAND DOCS", async () => {
    const socket = await open(retopy.port);
    const { send } = record(socket);
    const greeting = await handshake(socket, { port: retopy.port, name: "greeter-1", header: { app: "two words" }, describe: true }, send);
    assert.ok(greeting.hello instanceof Map);
    assert.equal((greeting.hello as Map<Reply, Reply>).get("proto"), 3);
    assert.ok(greeting.docs instanceof Map && greeting.docs.has("field"), "COMMAND DOCS lists the application's commands");
    const [app, proto, name] = await Promise.all(send([{ args: ["field", "app"], buffers: false }, { args: ["field", "proto"], buffers: false }, { args: ["CLIENT", "GETNAME"], buffers: false }]));
    assert.deepEqual([app, proto, name], ["two words", "resp3", "greeter-1"]);
  });

  it("handshakes over RESP2 with CLIENT SETNAME only: no HELLO reply, no docs unless asked", async () => {
    const socket = await open(retopy.port);
    const { send, frames } = record(socket);
    const greeting = await handshake(socket, { port: retopy.port, protocol: "resp2", name: "greeter-2" }, send);
    assert.deepEqual(greeting, { hello: undefined, docs: undefined });
    assert.equal(frames.length, 1, "one reply: CLIENT SETNAME's");
    assert.equal(await send([{ args: ["CLIENT", "GETNAME"], buffers: false }])[0], "greeter-2");
  });

  it("sends what is written in one tick as one write, and frames replies however they are split", async () => {
    const chunks: Buffer[] = [];
    let peer: Socket | undefined;
    const { server, port } = await rawServer((socket) => {
      peer = socket;
      socket.on("data", (chunk) => chunks.push(chunk));
    });
    raw.push(server);
    const socket = await open(port);
    const { frames } = record(socket);
    socket.write(encodeRequest(["A"]));
    socket.write("B\r\n");
    socket.write(encodeRequest(["C", Buffer.from([0, 255])]));
    await eventually(() => chunks.length > 0, 2000, "the bytes to arrive");
    await sleep(20);
    assert.equal(chunks.length, 1, "one write");
    assert.equal(Buffer.concat(chunks).toString("latin1"), "*1\r\n$1\r\nA\r\nB\r\n*2\r\n$1\r\nC\r\n$2\r\n\x00\xff\r\n");

    const replies = Buffer.from(">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n:42\r\n$5\r\nhello\r\n");
    for (const byte of replies) {
      peer!.write(Buffer.from([byte]));
      await sleep(0);
    }
    await eventually(() => frames.length === 3, 2000, "three frames");
    assert.deepEqual(frames, [
      { push: true, value: [Buffer.from("message"), Buffer.from("c"), Buffer.from("hi")] },
      { push: false, value: 42 },
      { push: false, value: Buffer.from("hello") },
    ]);
  });

  it("reports bytes that are not RESP once, as a PROTOCOL error, and reads nothing after them", async () => {
    const { server, port } = await rawServer((socket) => socket.write(":1\r\n?what\r\n:2\r\n"));
    raw.push(server);
    const socket = await open(port);
    const { frames, malformed, gone } = record(socket);
    await eventually(() => malformed.length > 0, 2000, "the malformed report");
    await sleep(20);
    assert.deepEqual(frames, [{ push: false, value: 1 }]);
    assert.equal(malformed.length, 1);
    assert.equal(malformed[0]!.code, "PROTOCOL");
    socket.destroy();
    await sleep(20);
    assert.deepEqual(gone, [], "after a malformed report, the end is not reported");
  });

  it("reports the peer hanging up once; after stop() it reports nothing", async () => {
    const peers: Socket[] = [];
    const { server, port } = await rawServer((socket) => peers.push(socket));
    raw.push(server);
    const first = record(await open(port));
    const second = await open(port);
    const stopped = record(second);
    await eventually(() => peers.length === 2, 2000, "both connections");
    second.stop();
    peers[1]!.write(":1\r\n");
    for (const peer of peers) peer.destroy();
    await eventually(() => first.gone.length > 0, 2000, "the hang-up");
    await sleep(20);
    assert.equal(first.gone.length, 1);
    assert.equal(first.gone[0]!.code, "CLOSED");
    assert.deepEqual([stopped.frames, stopped.gone], [[], []]);
  });

  it("open rejects a refused connection; withTimeout gives up with CONNECT and calls onTimeout", async () => {
    const { server, port } = await rawServer(() => {});
    server.close();
    await once(server, "close");
    await assert.rejects(ClientSocket.open({ port }), /ECONNREFUSED/);
    let timedOut = false;
    const never = new Promise<never>(() => {});
    await assert.rejects(withTimeout(never, { port, connectTimeout: 30 }, Date.now(), () => (timedOut = true)), (error) => error instanceof ClientError && error.code === "CONNECT");
    assert.equal(timedOut, true);
  });

  it("RetopyClient: a reply nobody asked for closes the client with PROTOCOL and rejects what is pending, in order", async () => {
    let peer: Socket | undefined;
    const { server, port } = await rawServer((socket) => {
      peer = socket;
      // Answers HELLO, then stays silent.
      socket.once("data", () => socket.write("%1\r\n+proto\r\n:3\r\n"));
    });
    raw.push(server);
    const client = await RetopyClient.connect({ port });
    const order: string[] = [];
    const calls = ["a", "b", "c"].map((name) => client.call("get", name).catch((error: ClientError) => void order.push(`${name}:${error.code}`)));
    await sleep(20);
    const closed = once(client, "close");
    peer!.write(":1\r\n:2\r\n:3\r\n:4\r\n"); // three answers, then one too many
    await Promise.all(calls);
    const [error] = (await closed) as [ClientError];
    assert.equal(error.code, "PROTOCOL");
    assert.equal(order.length, 0, "the three calls got their replies");
    assert.equal(client.isOpen, false);

    const second = await RetopyClient.connect({ port });
    const waiting = ["x", "y", "z"].map((name) => second.call("get", name).catch((error: ClientError) => void order.push(`${name}:${error.code}`)));
    await sleep(20);
    peer!.write("!garbage\r\n");
    await Promise.all(waiting);
    assert.deepEqual(order, ["x:PROTOCOL", "y:PROTOCOL", "z:PROTOCOL"]);
  });
});
