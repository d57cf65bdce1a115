/**
 * Graceful shutdown, in process and through the CLI. `server.close({ timeout })` stops
 * accepting at once, lets every command already received finish and be answered in order
 * (a burst of pipelined async commands on several connections, text and RESP), closes idle
 * connections without waiting for busy ones, and cuts what is still running after the
 * timeout. `retopy serve` on SIGTERM answers the commands in flight, then exits 0.
 * (test/cli.test.ts covers a signal with idle connections and a second signal; this adds
 * commands in flight.)
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, afterEach, describe, it } from "node:test";
import { pino } from "pino";
import { Application, CommandHandler, handleProcessFaults, parameter, RetopyError, status } from "../../src/index.js";
import { eventually, startServer, TextClient } from "../support.js";
import { ChildServers } from "./child-server.js";
import { RawClient, RawClients, resp, sleep } from "../wire.js";

/** Tags of the `work` commands that started, and of the `hang` commands whose signal aborted. */
const started = new Set<string>();
const hangs = { started: 0, aborted: 0 };

class Work extends CommandHandler {
  @parameter()
  ping() {
    return status("PONG");
  }

  @parameter({ name: "word" })
  echo(): string {
    return this.getArgument("word");
  }

  /** Answers its tag after `ms`; the graceful close must wait for it. */
  @parameter({ name: "ms", type: "int" })
  @parameter({ name: "tag" })
  async work(): Promise<string> {
    const tag = this.getArgument("tag");
    started.add(tag);
    await sleep(this.getArgument<number>("ms"));
    return tag;
  }

  /** Never finishes on its own; ends only when its connection is cut. */
  @parameter()
  async hang(): Promise<string> {
    hangs.started++;
    await new Promise<void>((resolve) => this.signal.addEventListener("abort", () => resolve(), { once: true }));
    hangs.aborted++;
    return "cut";
  }
}

function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/** Resolves with "refused" when nothing listens, else with what the server did with us. */
async function tryConnect(port: number): Promise<"refused" | { closedAtOnce: boolean; received: string }> {
  const socket = connect(port, "127.0.0.1");
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  const outcome = await new Promise<"connected" | "refused" | string>((resolve) => {
    socket.once("connect", () => resolve("connected"));
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED" ? "refused" : String(error.code)));
  });
  if (outcome === "refused") return "refused";
  socket.on("error", () => undefined);
  if (outcome === "connected") socket.write("ping\r\n");
  const closed = socket.destroyed || (await Promise.race([once(socket, "close").then(() => true), sleep(500).then(() => false)]));
  socket.destroy();
  return { closedAtOnce: closed, received };
}

describe("server.close({ timeout })", () => {
  const raw = new RawClients();
  afterEach(() => raw.destroyAll());

  /** A connection past its handshake. */
  async function textClient(port: number): Promise<RawClient> {
    const client = await raw.open(port);
    client.write("ping\r\n");
    await client.until((received) => received.toString() === "+PONG\r\n", "the handshake's PONG");
    client.clear();
    return client;
  }

  it("answers a burst of in-flight pipelined async commands on several connections, in order, then closes each", async () => {
    const log = recordingLogger();
    const running = await startServer(new Application([Work]), { logger: log.logger });
    const CONNECTIONS = 4;
    const PER_CONNECTION = 25;
    const clients: RawClient[] = [];
    const expected: string[][] = [];
    for (let c = 0; c < CONNECTIONS; c++) {
      const resp3 = c === CONNECTIONS - 1; // the last one speaks RESP
      const client = resp3 ? await raw.open(running.port) : await textClient(running.port);
      const tags: string[] = [];
      const requests: Buffer[] = [];
      for (let j = 0; j < PER_CONNECTION; j++) {
        const tag = `c${c}-${j}`;
        tags.push(tag);
        // Varied durations, and a sync command every fifth.
        const args = j % 5 === 4 ? ["echo", tag] : ["work", String((c * 7 + j * 13) % 50), tag];
        requests.push(resp3 ? resp(...args) : Buffer.from(`${args.join(" ")}\r\n`));
      }
      client.write(Buffer.concat(requests)); // one write: the server reads the whole burst at once
      clients.push(client);
      expected.push(tags);
    }
    // Every connection's burst has been read: its first command is running.
    const deadline = Date.now() + 3000;
    while (!expected.every((tags) => started.has(tags[0]!)) && Date.now() < deadline) await sleep(5);
    await sleep(20);

    const closing = running.server.close({ timeout: 10_000 });
    assert.equal(running.server.close({ timeout: 1 }), closing, "close() twice is the same close");

    // While it drains: no new client is served.
    const latecomer = await tryConnect(running.port);
    assert.ok(latecomer === "refused" || (latecomer.closedAtOnce && latecomer.received === ""), JSON.stringify(latecomer));

    for (const [c, client] of clients.entries()) {
      if (c === CONNECTIONS - 1) {
        const replies = await client.replies(PER_CONNECTION, 2, 8000);
        assert.deepEqual(
          replies,
          expected[c]!.map((tag) => ({ t: "bulk", v: Buffer.from(tag) })),
        );
      } else {
        await client.bytes(expected[c]!.join("\r\n").length + 2, 8000);
        assert.equal(client.text, `${expected[c]!.join("\r\n")}\r\n`, `connection ${c}`);
      }
      await client.closed(3000);
      assert.ok(client.endedByServer, `connection ${c} was closed by the server`);
    }
    await closing;
    assert.ok(!log.lines.some((line) => line.msg === "close timed out; cutting connections"), "the close waited for its timeout");
    assert.equal(running.server.connections.size, 0);
    assert.equal(running.server.supervisor.getSnapshot().value, "stopped");
    assert.equal(await tryConnect(running.port), "refused");
    await assert.rejects(running.server.listen({ port: 0, host: "127.0.0.1" }), (error: unknown) => error instanceof RetopyError && error.code === "RETOPY_SERVER_STATE");
  });

  it("closes idle connections at once, without waiting for a busy one", async () => {
    const running = await startServer(new Application([Work]));
    const busy = await textClient(running.port);
    const idleText = await textClient(running.port);
    const idleResp = await raw.open(running.port);
    idleResp.write(resp("ping"));
    await idleResp.replies(1, 2);
    const inHeader = await raw.open(running.port); // has not even sent its header
    busy.write("work 1000 busy\r\n");
    const deadline = Date.now() + 2000;
    while (!started.has("busy") && Date.now() < deadline) await sleep(5);

    const closing = running.server.close({ timeout: 10_000 });
    await Promise.all([idleText.closed(1000), idleResp.closed(1000), inHeader.closed(1000)]);
    assert.equal(busy.text, "", "the busy command is still running while the idle connections are gone");
    assert.equal(busy.isClosed, false);
    assert.equal(idleText.text, "");
    assert.ok(idleText.endedByServer && idleResp.endedByServer && inHeader.endedByServer);
    await busy.closed(4000);
    assert.equal(busy.text, "busy\r\n");
    await closing;
  });

  it("a client that keeps sending after close() began gets every reply it was owed; what it sent later never runs", async () => {
    const running = await startServer(new Application([Work]));
    const client = await textClient(running.port);
    client.write("work 100 owed\r\necho queued\r\n");
    const deadline = Date.now() + 2000;
    while (!started.has("owed") && Date.now() < deadline) await sleep(5);
    await sleep(20);
    const closing = running.server.close({ timeout: 5000 });
    for (let i = 0; i < 20 && !client.isClosed; i++) {
      client.write("echo late\r\n");
      await sleep(5);
    }
    await client.closed(3000);
    assert.equal(client.text, "owed\r\nqueued\r\n");
    await closing;
  });

  it("cuts a command that never finishes once the timeout passes; close() resolves soon after", async () => {
    const running = await startServer(new Application([Work]));
    const stuck = await textClient(running.port);
    const finishing = await textClient(running.port);
    const before = { ...hangs };
    stuck.write("hang\r\necho never\r\n");
    finishing.write("work 50 done\r\n");
    const deadline = Date.now() + 2000;
    while (hangs.started === before.started && Date.now() < deadline) await sleep(5);

    const startedAt = Date.now();
    await running.server.close({ timeout: 300 });
    const took = Date.now() - startedAt;
    assert.ok(took >= 290, `close() resolved after ${took} ms, before its timeout`);
    assert.ok(took < 2000, `close() took ${took} ms after a 300 ms timeout`);
    await stuck.closed(1000);
    assert.equal(stuck.text, "", "the cut command and what was queued behind it get no reply");
    assert.equal(hangs.aborted - before.aborted, 1, "the cut command's signal aborted");
    await finishing.closed(1000);
    assert.equal(finishing.text, "done\r\n");
    await eventually(() => running.server.connections.size === 0, 1000, "the cut connection to be released");
  });

  it(
    "when close() resolves after cutting connections, they are already released",
    async () => {
      const running = await startServer(new Application([Work]));
      const stuck = await textClient(running.port);
      const before = hangs.started;
      stuck.write("hang\r\n");
      const deadline = Date.now() + 2000;
      while (hangs.started === before && Date.now() < deadline) await sleep(5);
      await running.server.close({ timeout: 100 });
      assert.equal(running.server.connections.size, 0, "server.connections still lists the cut connection");
    },
  );
});

describe("retopy serve on SIGTERM with commands in flight", () => {
  const children = new ChildServers();
  const clients: (TextClient | RawClient)[] = [];
  after(() => {
    for (const client of clients) client instanceof TextClient ? client.close() : client.destroy();
    children.killAll();
  });

  it("answers every in-flight command in order, closes idle connections, and exits 0", async () => {
    const server = children.start("test/robustness/fixtures/slow-app.ts");
    const port = await server.port();
    const busy: TextClient[] = [];
    const expected: string[][] = [];
    for (let c = 0; c < 3; c++) {
      const client = await TextClient.connect(port);
      clients.push(client);
      assert.equal(await client.command("ping"), "+PONG");
      const tag = (name: string) => `${name}${c}`;
      client.write(`sleep 150 ${tag("a")}\r\necho ${tag("b")}\r\nsleep 300 ${tag("c")}\r\nsleep 20 ${tag("d")}\r\necho ${tag("e")}\r\n`);
      expected.push([`slept ${tag("a")}`, tag("b"), `slept ${tag("c")}`, `slept ${tag("d")}`, tag("e")]);
      busy.push(client);
    }
    const resp2 = await RawClient.connect(port);
    clients.push(resp2);
    resp2.write(Buffer.concat([resp("sleep", "200", "r"), resp("echo", "s")]));
    const idle = await TextClient.connect(port);
    clients.push(idle);
    assert.equal(await idle.command("ping"), "+PONG");
    await server.waitFor(() => ["a0", "a1", "a2", "r"].every((tag) => server.stderr.includes(`started ${tag}\n`)) || undefined, "the commands to start");

    server.child.kill("SIGTERM");
    for (const [c, client] of busy.entries()) {
      assert.deepEqual(await client.readLines(5, 5000), expected[c]);
      await client.closed(3000);
    }
    assert.deepEqual(await resp2.replies(2, 2, 5000), [
      { t: "bulk", v: Buffer.from("slept r") },
      { t: "bulk", v: Buffer.from("s") },
    ]);
    await idle.closed(3000);
    assert.deepEqual(await server.exit(8000), { code: 0, signal: null });
    const messages = server.logs.map((line) => line.msg);
    assert.ok(messages.includes("shutting down") && messages.includes("server closed"), server.stdout);
    assert.ok(!messages.includes("close timed out; cutting connections"), server.stdout);
  });

  it("--shutdown-timeout: commands still queued when it runs out are dropped, counted in the log, and the exit code is 1", async () => {
    const server = children.start("test/robustness/fixtures/slow-app.ts", ["--shutdown-timeout", "200"]);
    const port = await server.port();
    const client = await RawClient.connect(port);
    clients.push(client);
    // One slow command, and 1,000 queued behind it: none of them can finish in 200 ms.
    client.write(`sleep 3000 slow\r\n${"echo queued\r\n".repeat(1000)}`);
    await server.waitForStderr("started slow");
    server.child.kill("SIGTERM");
    assert.deepEqual(await server.exit(8000), { code: 1, signal: null });
    const dropped = server.logs.find((line) => line.msg === "shut down with commands dropped");
    assert.equal(dropped?.droppedCommands, 1001, server.stdout);
  });
});

describe("the library installs nothing process-wide unless asked", () => {
  it("a server adds no process listeners; handleProcessFaults adds them and takes them back", async () => {
    const events = ["unhandledRejection", "uncaughtException"] as const;
    const count = () => events.map((event) => process.listenerCount(event));
    const before = count();
    const running = await startServer(new Application([Work]));
    assert.deepEqual(count(), before);
    const uninstall = handleProcessFaults(running.server);
    assert.deepEqual(count(), before.map((n) => n + 1));
    uninstall();
    uninstall();
    assert.deepEqual(count(), before);
    await running.close();
  });
});
