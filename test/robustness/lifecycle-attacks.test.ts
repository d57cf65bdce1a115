/**
 * Attacks on the connection lifecycle owned by machines/connection.machine.ts (commit
 * 0d86220): a hostile client, a careless handler author, a slow network and an operator,
 * over real sockets on 127.0.0.1. Each test names the promise it holds the server to.
 *
 * Failing at 0d86220 (each documents a bug):
 * - idleTimeout never closes a `paused` connection (regression: passes at dd4b512);
 * - idleTimeout never closes a client whose runner waits on output it never reads (also at dd4b512);
 * - `connection.close()` on such a client leaves it in `closing.afterReply` forever (also at dd4b512);
 * - an output-limit cut during a quit is logged with reason `quit` (regression).
 * The others guard what held: shutdown in every phase, churn counts, TLS, inject, pushes.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { type Logger, pino } from "pino";
import { Application, CommandHandler, command, InjectedConnection, parameter, RetopyServer, status, type Status } from "../../src/index.js";
import { eventually, TextClient, useTestBed } from "../support.js";
import { selfSignedCertificate } from "../tls-support.js";
import { ProcessFaults, RawClient, resp } from "../wire.js";

/** What the handlers did, for assertions on commands that must never run. */
const ran = { after: 0, lateClose: 0, lateCloseThrew: 0 };

class Attacks extends CommandHandler {
  @command({ help: "Replies PONG." })
  ping(): Status {
    return status("PONG");
  }

  /** A reply of `n` bytes (plus CRLF). */
  @parameter({ name: "n", type: "int" })
  @command()
  big(): string {
    return "x".repeat(this.getArgument<number>("n"));
  }

  /** A 32 KiB line that starts with its index. */
  @parameter({ name: "i", type: "int" })
  @command()
  blob(): string {
    const head = `${this.getArgument<number>("i")}:`;
    return head + "x".repeat(32 * 1024 - head.length);
  }

  @parameter({ name: "ms", type: "int" })
  @command()
  async slow(): Promise<string> {
    await sleep(this.getArgument<number>("ms"), undefined, { signal: this.connection.signal }).catch(() => undefined);
    return "done";
  }

  /** Counts that it ran: it must never run behind a quit. */
  @command()
  after(): number {
    return ++ran.after;
  }

  /** A careless author: closes twice now, and again from a timer once the connection is long gone. */
  @parameter({ name: "ms", type: "int" })
  @command()
  closelater(): string {
    const connection = this.connection;
    connection.close();
    connection.close();
    setTimeout(() => {
      try {
        connection.close();
        connection.close();
        connection.push("late");
        connection.user = "someone";
        ran.lateClose++;
      } catch {
        ran.lateCloseThrew++;
      }
    }, this.getArgument<number>("ms")).unref();
    return "bye";
  }

  /** Closes from inside an async command, then keeps going: its reply is the last. */
  @command()
  async asyncquit(): Promise<string> {
    await sleep(20);
    this.connection.close();
    await sleep(20);
    return "closing";
  }

  /** Closes, then takes `ms` to answer. */
  @parameter({ name: "ms", type: "int" })
  @command()
  async quitwait(): Promise<string> {
    this.connection.close();
    await sleep(this.getArgument<number>("ms"), undefined, { signal: this.connection.signal }).catch(() => undefined);
    return "closing";
  }
}

const app = () => new Application([Attacks]);

/** A raw client that never reads. */
async function openPaused(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.pause();
  socket.on("error", () => undefined);
  return socket;
}

/** The supervisor's count and the registry agree, and both are `expected`. */
function assertCounts(server: RetopyServer, expected: number, what: string): void {
  assert.equal(server.connections.size, expected, `${what}: server.connections.size`);
  assert.equal(server.stats().connectionsCurrent, expected, `${what}: stats().connectionsCurrent`);
}

/** pino writing JSON lines into an array. */
function capturingLogger(level = "info"): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, destination), lines };
}

describe("a client that stops reading its replies cannot hold a slot forever", () => {
  const bed = useTestBed();

  it("idleTimeout closes an idle connection whose replies backed up (paused), as it did before the change", async () => {
    const running = await bed.start(app(), { idleTimeout: 300, outputHighWaterMark: 64 * 1024, maxOutputBuffer: 0 });
    const client = await openPaused(running.port);
    // One command per read, each reply under the runner's 64 KiB flush size: every batch ends
    // with a plain flush, so once the kernel buffers are full the last reply backs up the
    // output (the connection pauses) and the queue is empty: nothing runs, nothing is read.
    for (let i = 0; i < 300; i++) {
      client.write("big 60000\r\n");
      await sleep(3);
    }
    const ran = running.server.stats().commandCounts.big ?? 0;
    assert.ok(ran > 0 && ran < 300, `the server paused after ${ran} commands`);
    const gone = await eventually(() => running.server.connections.size === 0, 3000, "idle close").then(() => true, () => false);
    const left = running.server.connections.size;
    client.destroy();
    assert.equal(gone, true, `a paused, idle connection is still open 3 s after a 300 ms idleTimeout (connections: ${left})`);
  });

  it("idleTimeout closes a client that pipelines large replies and never reads them (runner waiting on output, not on a command)", async () => {
    const running = await bed.start(app(), { idleTimeout: 300, outputHighWaterMark: 64 * 1024, maxOutputBuffer: 0 });
    const client = await openPaused(running.port);
    // 200 x 32 KiB of replies for 2 KB of requests; it then reads nothing and sends nothing.
    client.write("ping\r\n" + Array.from({ length: 200 }, (_, i) => `blob ${i}\r\n`).join(""));
    await eventually(() => (running.server.stats().commandCounts.blob ?? 0) > 0, 2000, "blobs ran");
    const gone = await eventually(() => running.server.connections.size === 0, 3000, "idle close").then(() => true, () => false);
    const left = running.server.connections.size;
    client.destroy();
    assert.equal(gone, true, `a client that reads nothing still holds its slot 3 s after a 300 ms idleTimeout (connections: ${left})`);
  });

  it("an operator's connection.close() on a client stuck behind its own output releases the slot", async () => {
    const running = await bed.start(app(), { outputHighWaterMark: 64 * 1024, maxOutputBuffer: 0 });
    const client = await openPaused(running.port);
    client.write("ping\r\n" + Array.from({ length: 200 }, (_, i) => `blob ${i}\r\n`).join(""));
    await eventually(() => (running.server.stats().commandCounts.blob ?? 0) > 0, 2000, "blobs ran");
    await sleep(100);
    const [connection] = [...running.server.connections.values()];
    connection!.close(); // CLIENT KILL, say: the running command's reply, then the close
    const gone = await Promise.race([
      eventually(() => running.server.connections.size === 0, 4000, "release").then(() => true, () => false),
    ]);
    const left = running.server.connections.size;
    client.destroy();
    assert.equal(gone, true, `close() on a non-reading client: still ${left} connection(s) 4 s later (stuck in closing.afterReply)`);
  });
});

describe("closing while commands are in flight", () => {
  const bed = useTestBed();

  it("quit from inside an async command: its reply is the last, nothing queued behind it runs", async () => {
    const running = await bed.start(app());
    const client = await RawClient.connect(running.port);
    const before = ran.after;
    client.write("ping\r\nasyncquit\r\nafter\r\nafter\r\n");
    await client.closed(3000);
    assert.equal(client.text, "+PONG\r\nclosing\r\n");
    assert.equal(ran.after, before, "a command queued behind the quit ran");
    await eventually(() => running.server.connections.size === 0, 3000, "release");
    assertCounts(running.server, 0, "after the quit");
  });

  it("a handler that closes twice, then again (and pushes, and logs in) from a timer after the close: no fault, one close, counts right", async () => {
    const faults = new ProcessFaults().start();
    try {
      const running = await bed.start(app());
      const client = await RawClient.connect(running.port);
      const before = ran.after;
      client.write("closelater 100\r\nafter\r\n");
      await client.closed(3000);
      assert.equal(client.text, "bye\r\n");
      assert.equal(ran.after, before);
      await eventually(() => ran.lateClose + ran.lateCloseThrew > 0, 2000, "the timer");
      assert.equal(ran.lateCloseThrew, 0, "a late close()/push()/user= threw");
      assertCounts(running.server, 0, "after the late close");
      // The server is still fine.
      const other = await RawClient.connect(running.port);
      other.write("ping\r\n");
      assert.deepEqual(await other.lines(1), ["+PONG"]);
      other.destroy();
      assert.equal(faults.take().count, 0, faults.describe());
    } finally {
      faults.stop();
    }
  });

  it("server.close() while a client does not read a pipeline of large replies: cut at the timeout, the drop counted, nothing left", async () => {
    const server = new RetopyServer(app(), { logger: false, outputHighWaterMark: 64 * 1024, maxOutputBuffer: 0 });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const client = await openPaused(port);
    client.write(Array.from({ length: 200 }, (_, i) => `blob ${i}\r\n`).join(""));
    await eventually(() => (server.stats().commandCounts.blob ?? 0) > 0, 2000, "blobs ran");
    await sleep(100);
    const started = Date.now();
    const result = await server.close({ timeout: 400 });
    const took = Date.now() - started;
    client.destroy();
    assert.ok(took < 1500, `close() took ${took} ms`);
    assert.equal(result.connectionsCut, 1);
    assert.ok(result.droppedCommands > 0 && result.droppedCommands < 200, `dropped ${result.droppedCommands}`);
    assertCounts(server, 0, "after close()");
  });

  it("server.close() while paused behind a pipeline, then the client reads: every reply arrives in order, nothing is dropped", async () => {
    const server = new RetopyServer(app(), { logger: false, outputHighWaterMark: 64 * 1024, maxOutputBuffer: 0 });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const client = await openPaused(port);
    const clientClosed = once(client, "close");
    const COUNT = 150;
    client.write(Array.from({ length: COUNT }, (_, i) => `blob ${i}\r\n`).join("") + "ping\r\n");
    await eventually(() => (server.stats().commandCounts.blob ?? 0) > 0, 2000, "blobs ran");
    await sleep(50);
    const closing = server.close({ timeout: 8000 });
    await sleep(100);
    let received = "";
    client.setEncoding("latin1");
    client.on("data", (chunk: string) => (received += chunk));
    client.resume();
    const result = await closing;
    await clientClosed;
    const expected = Array.from({ length: COUNT }, (_, i) => `${i}:`.padEnd(32 * 1024, "x") + "\r\n").join("") + "+PONG\r\n";
    assert.equal(received.length, expected.length);
    assert.ok(received === expected, "replies whole and in order");
    assert.deepEqual(result, { droppedCommands: 0, connectionsCut: 0 });
    assert.equal(server.stats().commandCounts.blob, COUNT, "every count reached the supervisor before it stopped");
    assertCounts(server, 0, "after close()");
  });

  it("a client gone mid-command: nothing queued behind it runs, and close() does not wait for it", async () => {
    const running = await bed.start(app());
    const client = await RawClient.connect(running.port);
    const before = ran.after;
    client.write("slow 150\r\nafter\r\nafter\r\n");
    await sleep(20);
    client.destroy();
    await eventually(() => running.server.connections.size === 0, 2000, "release");
    assertCounts(running.server, 0, "after the client left");
    await sleep(250);
    assert.equal(ran.after, before, "a command queued behind the running one ran after the client left");
  });

  it("server.close() while a paused connection's queue is empty: it lingers at most lingerTimeout, nothing is reported dropped", async () => {
    const server = new RetopyServer(app(), { logger: false, outputHighWaterMark: 64 * 1024, maxOutputBuffer: 0 });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const client = await openPaused(port);
    for (let i = 0; i < 300; i++) {
      client.write("big 60000\r\n");
      await sleep(3);
    }
    const started = Date.now();
    const result = await server.close({ timeout: 5000 });
    const took = Date.now() - started;
    client.destroy();
    assert.ok(took < 3000, `close() took ${took} ms`);
    assert.deepEqual(result, { droppedCommands: 0, connectionsCut: 0 });
    assertCounts(server, 0, "after close()");
  });

  it("server.close() with connections still in the header state (handshake line): they go at once; a half-open one within lingerTimeout", async () => {
    const server = new RetopyServer(app(), { logger: false, handshake: "line", headerTimeout: 0 });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const quiet = await RawClient.connect(port);
    const partial = await RawClient.connect(port);
    partial.write("name=half"); // no newline: the header is incomplete
    const halfOpen = await RawClient.connect(port, { allowHalfOpen: true });
    await eventually(() => server.connections.size === 3, 2000, "3 connections");
    const started = Date.now();
    const result = await server.close({ timeout: 5000 });
    const took = Date.now() - started;
    assert.ok(took < 2600, `close() took ${took} ms`);
    assert.deepEqual(result, { droppedCommands: 0, connectionsCut: 0 });
    await quiet.closed(1000);
    await partial.closed(1000);
    assert.equal(quiet.text + partial.text, "", "a header-state client is told nothing");
    halfOpen.destroy();
    assertCounts(server, 0, "after close()");
  });

  it("HELLO 3 pipelined while the server closes: every reply is owed and each is in the protocol in force", async () => {
    const server = new RetopyServer(app(), { logger: false });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const client = await RawClient.connect(port);
    client.write(Buffer.concat([resp("SLOW", "150"), resp("HELLO", "3"), resp("PING"), resp("BIG", "3")]));
    await sleep(30);
    const closing = server.close({ timeout: 3000 });
    await client.closed(3000);
    const result = await closing;
    assert.deepEqual(result, { droppedCommands: 0, connectionsCut: 0 });
    const text = client.text;
    assert.ok(text.startsWith("$4\r\ndone\r\n%"), JSON.stringify(text.slice(0, 40)));
    assert.ok(text.endsWith("+PONG\r\n$3\r\nxxx\r\n"), JSON.stringify(text.slice(-40)));
  });

  it("a protocol error behind an async command while the server closes: the command's reply, then the error, then the close", async () => {
    const server = new RetopyServer(app(), { logger: false });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
    const client = await RawClient.connect(port);
    client.write(Buffer.concat([resp("SLOW", "150"), resp("PING"), Buffer.from("*1\r\n$x\r\n")]));
    await sleep(30);
    const result = await server.close({ timeout: 3000 });
    await client.closed(3000);
    assert.equal(client.text, "$4\r\ndone\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
    assert.deepEqual(result, { droppedCommands: 0, connectionsCut: 0 });
  });
});

describe("the supervisor's count stays the registry's after churn", () => {
  const bed = useTestBed();

  it("200 connections closed every way at once (quit, protocol error, header too large, client gone mid-command, idle, output limit, close()): both counts return to 0", async () => {
    const running = await bed.start(app(), { idleTimeout: 300, maxHeaderSize: 64, maxOutputBuffer: 256 * 1024, outputHighWaterMark: 64 * 1024 });
    const ways: Array<(client: RawClient) => void> = [
      (c) => c.write("ping\r\nquit\r\nping\r\n"),
      (c) => c.write(resp("PING").toString("latin1") + "*1\r\n$x\r\n"),
      (c) => c.write(`${"k=v ".repeat(40)}\r\n`),
      (c) => {
        c.write("slow 200\r\n");
        setTimeout(() => c.destroy(), 20);
      },
      (c) => c.write("ping\r\n"), // then idle
      (c) => {
        c.pause();
        c.write("big 2000000\r\n"); // past maxOutputBuffer at once
      },
      (c) => c.write("closelater 10\r\nafter\r\n"),
      (c) => c.write("asyncquit\r\n"),
      (c) => c.destroy(),
    ];
    const clients: RawClient[] = [];
    for (let i = 0; i < 200; i++) {
      const client = await RawClient.connect(running.port);
      clients.push(client);
      ways[i % ways.length]!(client);
    }
    await eventually(() => running.server.connections.size === 0, 8000, `release (left: ${running.server.connections.size})`).catch(() => undefined);
    for (const client of clients) client.destroy();
    await eventually(() => running.server.connections.size === 0, 3000, "release after destroy").catch(() => undefined);
    assertCounts(running.server, 0, "after churn");
    assert.equal(running.server.stats().connectionsTotal, 200);
  });

  it("maxConnections counts what is open: quitting clients free their slots, refused ones never take one", async () => {
    const running = await bed.start(app(), { maxConnections: 3 });
    for (let round = 0; round < 5; round++) {
      const clients = await Promise.all([0, 1, 2].map(() => RawClient.connect(running.port)));
      for (const client of clients) client.write("ping\r\n");
      for (const client of clients) assert.deepEqual(await client.lines(1), ["+PONG"]);
      const refused = await RawClient.connect(running.port);
      await refused.closed(2000);
      assert.match(refused.text, /max number of clients reached/);
      for (const client of clients) client.write("quit\r\n");
      for (const client of clients) await client.closed(3000);
      await eventually(() => running.server.stats().connectionsCurrent === 0, 3000, `slots free (round ${round})`);
      assertCounts(running.server, 0, `round ${round}`);
    }
    assert.equal(running.server.stats().connectionsRejected, 5);
  });
});

describe("pushes, logs and operators", () => {
  const bed = useTestBed();

  it("no push reaches a subscriber after its quit reply, and PUBLISH stops counting it", async () => {
    const running = await bed.start(app());
    const subscriber = await RawClient.connect(running.port);
    subscriber.write("subscribe news\r\n");
    assert.deepEqual(await subscriber.lines(1), ["subscribe news 1"]);
    const publisher = await RawClient.connect(running.port);
    subscriber.write("asyncquit\r\n");
    // Publishes while the quit is under way, and after it.
    const counts: string[] = [];
    for (let i = 0; i < 10; i++) {
      publisher.write(`publish news m${i}\r\n`);
      counts.push(...(await publisher.lines(1)));
      await sleep(10);
    }
    await subscriber.closed(3000);
    const text = subscriber.buffered;
    const afterReply = text.slice(text.indexOf("closing\r\n") + "closing\r\n".length);
    assert.ok(text.includes("closing\r\n"), JSON.stringify(text));
    assert.equal(afterReply, "", `pushes after the quit reply: ${JSON.stringify(afterReply)}`);
    assert.equal(counts.at(-1), "0");
    publisher.destroy();
  });

  it("an idle close in the header state is logged as idle_timeout; a quit as quit; a header too large as header_too_large", async () => {
    const { logger, lines } = capturingLogger("debug") // "connection closed" is a debug line;
    const running = await bed.start(app(), { logger, handshake: "line", idleTimeout: 200, maxHeaderSize: 16 });
    const idle = await RawClient.connect(running.port);
    const quitter = await RawClient.connect(running.port);
    quitter.write("\r\nquit\r\n");
    const large = await RawClient.connect(running.port);
    large.write(`${"a=b ".repeat(10)}\r\n`);
    await idle.closed(2000);
    await quitter.closed(2000);
    await large.closed(2000);
    await eventually(() => running.server.connections.size === 0, 3000, "release");
    const reasons = lines.filter((line) => line.msg === "connection closed").map((line) => line.reason).sort();
    assert.deepEqual(reasons, ["header_too_large", "idle_timeout", "quit"]);
  });

  it("a client cut for its output limit while its quit is under way is logged as output_limit", async () => {
    const { logger, lines } = capturingLogger("debug");
    const running = await bed.start(app(), { logger, maxOutputBuffer: 512 * 1024, outputHighWaterMark: 64 * 1024 });
    const subscriber = await openPaused(running.port);
    subscriber.write("subscribe news\r\nquitwait 1500\r\n");
    const publisher = await RawClient.connect(running.port);
    await sleep(5);
    const payload = "y".repeat(200 * 1024);
    for (let i = 0; i < 40 && running.server.connections.size > 1; i++) {
      publisher.write(resp("PUBLISH", "news", payload));
      await publisher.lines(1);
    }
    await eventually(() => running.server.connections.size === 1, 3000, "the subscriber is cut");
    subscriber.destroy();
    publisher.destroy();
    const cut = lines.find((line) => line.msg === "output buffer limit reached; disconnecting the client");
    assert.ok(cut, "the output limit was reached");
    const closed = lines.filter((line) => line.msg === "connection closed" && line.connection === cut.connection).map((line) => line.reason);
    assert.deepEqual(closed, ["output_limit"], "the close is logged with the reason it happened for");
  });

  it("an admin command that calls server.close() on its own server: its reply arrives and close() resolves", async () => {
    let server: RetopyServer | null = null;
    let closing: Promise<unknown> | null = null;
    class Admin extends CommandHandler {
      @command()
      shutdown(): string {
        closing = server!.close({ timeout: 2000 });
        return "bye";
      }

      @command()
      cutall(): string {
        closing = server!.close({ timeout: 2000 });
        server!.closeAllConnections();
        return "cut";
      }
    }
    const faults = new ProcessFaults().start();
    try {
      for (const name of ["shutdown", "cutall"]) {
        closing = null;
        server = new RetopyServer(new Application([Admin, Attacks]), { logger: false });
        const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
        const other = await RawClient.connect(port);
        other.write("slow 100\r\n");
        const client = await RawClient.connect(port);
        client.write(`${name}\r\nping\r\n`);
        await client.closed(3000);
        await other.closed(3000);
        await eventually(() => closing !== null, 1000, "close() called");
        const pending = closing as Promise<unknown> | null;
        const done: boolean = await Promise.race([pending!.then(() => true), sleep(3000).then(() => false)]);
        assert.equal(done, true, `${name}: close() did not resolve`);
        if (name === "shutdown") {
          assert.equal(client.text, "bye\r\n+PONG\r\n");
          assert.equal(other.text, "done\r\n");
        }
        assertCounts(server, 0, name);
      }
      await sleep(20);
      assert.equal(faults.take().count, 0, faults.describe());
    } finally {
      faults.stop();
    }
  });
});

describe("TLS and app.inject() walk the same life", () => {
  const { cert, key } = selfSignedCertificate();

  async function tlsClient(port: number): Promise<{ socket: TLSSocket; client: TextClient }> {
    const socket = tlsConnect({ port, host: "127.0.0.1", ca: cert });
    await once(socket, "secureConnect");
    return { socket, client: TextClient.over(socket) };
  }

  it("TLS: server.close() during an async command answers it, closes, and leaves nothing; quit drops what is queued", async () => {
    const server = new RetopyServer(app(), { logger: false });
    const { port } = await server.listen({ port: 0, host: "127.0.0.1", tls: { cert, key } });
    const busy = await tlsClient(port);
    const quitter = await tlsClient(port);
    const idle = await tlsClient(port);
    assert.equal(await idle.client.command("ping"), "+PONG");
    const before = ran.after;
    quitter.client.write("ping\r\nquit\r\nafter\r\n");
    assert.deepEqual(await quitter.client.readLines(2), ["+PONG", "+OK"]);
    await quitter.client.closed(3000);
    busy.client.write("slow 200\r\nping\r\n"); // one write: a second small one may sit in the client's Nagle buffer past close()
    await sleep(30);
    const result = await server.close({ timeout: 3000 });
    assert.deepEqual(result, { droppedCommands: 0, connectionsCut: 0 });
    assert.deepEqual(await busy.client.readLines(2), ["done", "+PONG"]);
    await busy.client.closed(3000);
    await idle.client.closed(3000);
    assert.equal(ran.after, before);
    assertCounts(server, 0, "after close()");
  });

  it("inject: quit, a double close() and a late close() from a timer settle every promise; commands after the quit are refused", async () => {
    const faults = new ProcessFaults().start();
    try {
      const application = app();
      const quitting = new InjectedConnection(application);
      assert.equal((await quitting.run("ping")).text, "+PONG\r\n");
      assert.equal((await quitting.run("quit")).text, "+OK\r\n");
      await assert.rejects(quitting.run("ping"));
      await quitting.close();
      await quitting.close();
      assert.equal(quitting.closed, true);

      const careless = new InjectedConnection(application);
      const before = ran.lateClose;
      assert.equal((await careless.run("closelater 20")).value, "bye");
      await assert.rejects(careless.run("after"));
      await careless.close();
      await eventually(() => ran.lateClose > before, 1000, "the late timer");

      const asyncQuit = new InjectedConnection(application, { protocol: "text" });
      const results = await Promise.allSettled([asyncQuit.run("asyncquit"), asyncQuit.run("after")]);
      assert.equal(results[0].status === "fulfilled" && results[0].value.text, "closing\r\n");
      assert.equal(results[1].status, "rejected");
      await asyncQuit.close();
      await sleep(20);
      assert.equal(faults.take().count, 0, faults.describe());
    } finally {
      faults.stop();
    }
  });
});
