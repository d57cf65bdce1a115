/**
 * Connection limits over real sockets on 127.0.0.1: `maxConnections` turns the next client
 * away and the others keep working; `idleTimeout` closes silent connections, clients
 * that trickle bytes that never make a command (slowloris) and clients that stop reading
 * their replies, but not a connection whose command is still running, one whose long reply
 * is still being read, nor a subscriber.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { Application, CommandHandler, command, parameter, RetopyError, RetopyServer, status, type Status } from "../../src/index.js";
import { eventually, TextClient, useTestBed } from "../support.js";

class Basics extends CommandHandler {
  @command({ help: "Replies PONG." })
  ping(): Status {
    return status("PONG");
  }

  /** A reply of `mb` MiB: far more than the kernel's socket buffers hold. */
  @parameter({ name: "mb", type: "int" })
  big(): Buffer {
    return Buffer.alloc(this.getArgument<number>("mb") << 20, 0x62);
  }

  @parameter({ name: "ms", type: "int" })
  async slow(): Promise<string> {
    await sleep(this.getArgument<number>("ms"), undefined, { signal: this.connection.signal });
    return "done";
  }
}

describe("maxConnections", () => {
  const bed = useTestBed();

  it("refuses the client past the limit with Redis's error, then closes it; the others keep working", async () => {
    const running = await bed.start(new Application([Basics]), { maxConnections: 3 });
    const clients = [await bed.open(running.port), await bed.open(running.port), await bed.open(running.port)];
    for (const client of clients) assert.equal(await client.command("ping"), "+PONG");

    const refused = await bed.open(running.port);
    assert.equal(await refused.readLine(), "-ERR max number of clients reached");
    await refused.closed();
    assert.equal(running.server.connections.size, 3);
    for (const client of clients) assert.equal(await client.command("ping"), "+PONG");

    // A slot that frees up is available again.
    clients[0]!.close();
    let admitted: TextClient | null = null;
    for (let attempt = 0; attempt < 50 && admitted === null; attempt++) {
      const client = await bed.open(running.port);
      client.send("ping");
      if ((await client.readLine()) === "+PONG") admitted = client;
      else await sleep(20);
    }
    assert.ok(admitted, "a client was admitted once a connection closed");
    const stats = running.server.stats();
    assert.ok(stats.connectionsRejected >= 1, `connectionsRejected ${stats.connectionsRejected}`);
    assert.equal(stats.connectionsCurrent, 3);
  });

  it("a refused RESP client gets the error as a RESP error reply", async () => {
    const running = await bed.start(new Application([Basics]), { maxConnections: 1 });
    const first = await bed.open(running.port);
    assert.equal(await first.command("ping"), "+PONG");
    const refused = await bed.open(running.port);
    refused.write("*1\r\n$4\r\nPING\r\n");
    assert.equal(await refused.readLine(), "-ERR max number of clients reached");
    await refused.closed();
  });

  it("0 means no limit; a negative or fractional limit is refused at construction", () => {
    const app = new Application([Basics]);
    assert.throws(() => new RetopyServer(app, { maxConnections: -1, logger: false }), (e: unknown) => e instanceof RetopyError && e.code === "RETOPY_INVALID_OPTION");
    assert.throws(() => new RetopyServer(app, { maxConnections: 1.5, logger: false }), RetopyError);
    assert.throws(() => new RetopyServer(app, { idleTimeout: -5, logger: false }), RetopyError);
    assert.throws(() => new RetopyServer(app, { maxOutputBuffer: Number.NaN, logger: false }), RetopyError);
    void new RetopyServer(app, { maxConnections: 0, logger: false }).close();
  });
});

describe("idleTimeout", () => {
  const bed = useTestBed();
  const IDLE_MS = 300;

  it("closes a connection that sends nothing, silently; an active one stays open", async () => {
    const running = await bed.start(new Application([Basics]), { idleTimeout: IDLE_MS });
    const silent = await bed.open(running.port);
    assert.equal(await silent.command("ping"), "+PONG");
    const active = await bed.open(running.port);
    const started = Date.now();
    // The active client sends a command every 50 ms for about three idle periods.
    while (Date.now() - started < IDLE_MS * 3) {
      assert.equal(await active.command("ping"), "+PONG");
      await sleep(50);
    }
    await silent.closed(2000);
    assert.equal(silent.raw, "+PONG\r\n", "an idle close writes nothing");
    assert.equal(active.isClosed, false);
  });

  it("a client trickling a byte at a time that never completes a command is closed (slowloris)", async () => {
    const running = await bed.start(new Application([Basics]), { idleTimeout: IDLE_MS });
    const trickler = await bed.open(running.port);
    trickler.send("ping"); // a handshake-free first command, so the connection is open
    assert.equal(await trickler.readLine(), "+PONG");
    const started = Date.now();
    for (let i = 0; i < 200 && !trickler.isClosed; i++) {
      trickler.write("x"); // one byte every 20 ms: never a newline
      await sleep(20);
    }
    assert.ok(trickler.isClosed, "the trickler was closed");
    const lasted = Date.now() - started;
    assert.ok(lasted < IDLE_MS * 4, `closed after ${lasted} ms`);
  });

  it("a long-running command is not idleness; a subscriber is never idle", async () => {
    const running = await bed.start(new Application([Basics]), { idleTimeout: IDLE_MS });
    const busy = await bed.open(running.port);
    busy.send(`slow ${IDLE_MS * 3}`);
    const subscriber = await bed.open(running.port);
    subscriber.send("subscribe news");
    assert.deepEqual(await subscriber.readLines(1), ["subscribe news 1"]);
    assert.equal(await busy.readLine(IDLE_MS * 6), "done");
    assert.equal(subscriber.isClosed, false);
    const publisher = await bed.open(running.port);
    assert.equal(await publisher.command("publish news hi"), "1");
    assert.deepEqual(await subscriber.readLines(1), ["message news hi"]);
    // The finished command restarts the clock: the busy connection closes an idle period later.
    await busy.closed(IDLE_MS * 4);
  });

  it("a client that stops reading its replies is idle: closed, though its queued commands still wait to write", async () => {
    const running = await bed.start(new Application([Basics]), { idleTimeout: IDLE_MS });
    const socket = connect(running.port, "127.0.0.1");
    await once(socket, "connect");
    socket.on("error", () => undefined);
    socket.pause(); // never reads: the replies back up past the high-water mark and reading pauses
    // A pipeline of 1 MiB replies: the queue waits, busy, for the client to read the one before.
    socket.write("big 1\r\n".repeat(40));
    await eventually(() => running.server.connections.size === 0, IDLE_MS * 10, "the stuck client to be closed");
    assert.equal(running.server.stats().connectionsCurrent, 0);
    socket.destroy();
  });

  it("a client that reads a long reply slowly but steadily is not idle while it drains, though it sends nothing", async () => {
    const running = await bed.start(new Application([Basics]), { idleTimeout: IDLE_MS });
    const socket = connect(running.port, "127.0.0.1");
    await once(socket, "connect");
    const MB = 1 << 20;
    const expected = `$${32 * MB}\r\n`.length + 32 * MB + 2;
    let received = 0;
    let sinceBreak = 0;
    const done = new Promise<void>((resolve, reject) => {
      socket.on("close", () => reject(new Error(`closed after ${received} of ${expected} bytes`)));
      socket.on("data", (chunk: Buffer) => {
        received += chunk.length;
        sinceBreak += chunk.length;
        if (received >= expected) return resolve();
        // A break after every MiB of the first half: the download spans several
        // idle periods. The second half is read at full speed because the server
        // can only see bytes leave for the kernel: once the last of them are in
        // the socket buffers (megabytes on loopback), its idle clock runs, and a
        // client still pausing over what the kernel holds could rightly be cut.
        if (sinceBreak >= MB && received < expected / 2) {
          sinceBreak = 0;
          socket.pause();
          setTimeout(() => socket.resume(), 40);
        }
      });
    });
    socket.write("*2\r\n$3\r\nbig\r\n$2\r\n32\r\n");
    const started = Date.now();
    await done;
    const took = Date.now() - started;
    assert.ok(took > IDLE_MS, `the download took ${took} ms, more than an idle period`);
    assert.equal(received, expected, "the whole reply arrived");
    assert.equal(socket.readableEnded, false, "the connection is still open after the download");
    socket.write("*1\r\n$4\r\nping\r\n");
    const [pong] = (await once(socket, "data", { signal: AbortSignal.timeout(3000) })) as [Buffer];
    assert.equal(pong.toString(), "+PONG\r\n", "and serves the next command");
    socket.destroy();
  });

  it("with the default (0) nothing is ever closed for idleness", async () => {
    const running = await bed.start(new Application([Basics]));
    const client = await bed.open(running.port);
    assert.equal(await client.command("ping"), "+PONG");
    await sleep(IDLE_MS * 2);
    assert.equal(await client.command("ping"), "+PONG");
  });
});
