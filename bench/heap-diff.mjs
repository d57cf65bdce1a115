// Where the heap of an idle connection goes: serves examples/kv.ts in this process (built
// retopy from dist/, so run `npm run build` first, or `npm run bench:heap`), opens idle
// connections from a child process (each after one inline PING and its +PONG, as the bench's
// memory section does), and diffs two heap snapshots of the server.
//
//   node --expose-gc bench/heap-diff.mjs [options]
//     --connections N   idle connections measured (default 1000)
//     --top N           rows per table (default 40)
//     --settle MS       idle time before the second reading (default 500)
//     --no-snapshot     only heapUsed and RSS per connection (no snapshots, so RSS means
//                       something; use with --connections 10000 --settle 3000 to compare
//                       with the bench's memory section)
//     --no-faults       serve without handleProcessFaults (the bench serves with it)
//
// Prints heapUsed per connection (process.memoryUsage() after two forced GCs), then markdown
// tables: the net growth by node type and constructor name, and the new objects by what
// holds them (the first strong retainer, walked up past strings, arrays, closures, contexts
// and plain objects to the nearest named object, with the edge path from it).
//
// The clients live in a child process so their own sockets are not in the measured heap.
// Everything talks to 127.0.0.1 only and is closed at the end; bounded to ~60 s.
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fork } from "node:child_process";
import { rmSync, mkdtempSync } from "node:fs";
import { idsOf, printTables, readSnapshot, totalsByKey, writeSnapshot } from "./heap-snapshot.mjs";
import { fileURLToPath } from "node:url";

const HOST = "127.0.0.1";
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at === -1 ? fallback : Number(args[at + 1]);
};


// ---- the clients (child process) ---------------------------------------------------------

function runClient() {
  const sockets = [];
  const idleConnection = (port) =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, HOST, () => socket.write("PING\r\n"));
      let got = "";
      socket.on("data", (chunk) => {
        got += chunk.toString("latin1");
        if (got.length < 7) return;
        socket.removeAllListeners("data");
        if (got === "+PONG\r\n") resolve(socket);
        else reject(new Error(`PING got ${JSON.stringify(got)}`));
      });
      socket.on("error", reject);
    });
  process.on("message", async (message) => {
    if (message.type === "open") {
      try {
        for (let left = message.count; left > 0; ) {
          const batch = Math.min(250, left);
          sockets.push(...(await Promise.all(Array.from({ length: batch }, () => idleConnection(message.port)))));
          left -= batch;
        }
        process.send({ type: "opened", count: sockets.length });
      } catch (error) {
        process.send({ type: "failed", message: String(error?.message ?? error) });
      }
    } else if (message.type === "close") {
      for (const socket of sockets.splice(0)) socket.destroy();
      process.send({ type: "closed" });
    }
  });
  process.on("disconnect", () => process.exit(0));
}

// ---- the server (this process) -----------------------------------------------------------

async function runServer() {
  if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
  const count = option("--connections", 1000);
  const top = option("--top", 40);
  const settle = option("--settle", 500);
  const snapshots = !args.includes("--no-snapshot");
  const watchdog = setTimeout(() => {
    console.error("heap-diff: gave up after 120 s");
    process.exit(2);
  }, 120_000);
  watchdog.unref();

  const { register } = await import("tsx/esm/api");
  register(); // examples/ is TypeScript and not part of dist/
  const { RetopyServer, handleProcessFaults } = await import("../dist/src/index.js");
  const { default: app } = await import("../examples/kv.ts");
  const server = new RetopyServer(app, { logger: false, maxConnections: 20_000 });
  const { port } = await server.listen({ port: 0, host: HOST });
  const removeFaults = args.includes("--no-faults") ? () => {} : handleProcessFaults(server);

  const client = fork(fileURLToPath(import.meta.url), ["--client"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const ask = (message, answer) =>
    new Promise((resolve, reject) => {
      const onMessage = (reply) => {
        if (reply.type === "failed") reject(new Error(reply.message));
        else if (reply.type === answer) resolve(reply);
        else return;
        client.off("message", onMessage);
      };
      client.on("message", onMessage);
      client.send(message);
    });
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const settled = () => {
    globalThis.gc();
    globalThis.gc();
    return process.memoryUsage();
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), "heap-diff-"));

  try {
    // Warm the accept and PING paths, so the first snapshot is not the cold process.
    await ask({ type: "open", port, count: 100 }, "opened");
    await ask({ type: "close" }, "closed");
    await sleep(300);
    // Both snapshots are only written here and read once the measuring is over: parsed, the
    // first one would be in the second (and in heapUsed).
    const memoryBefore = settled();
    const beforeFile = snapshots ? writeSnapshot(dir, "before") : null;
    const opened = (await ask({ type: "open", port, count }, "opened")).count;
    await sleep(settle);
    const memoryAfter = settled();
    const afterFile = snapshots ? writeSnapshot(dir, "after") : null;
    if (server.connections?.size !== undefined && server.connections.size !== opened) {
      console.warn(`warning: the server holds ${server.connections.size} connections, ${opened} opened`);
    }

    const kb = (bytes) => (bytes / opened / 1024).toFixed(2);
    console.log(`## Heap per idle connection (${opened} connections, each after one inline PING)\n`);
    console.log(`heapUsed/conn: ${kb(memoryAfter.heapUsed - memoryBefore.heapUsed)} KB`);
    console.log(`RSS/conn:      ${kb(memoryAfter.rss - memoryBefore.rss)} KB${snapshots ? " (distorted by writing the first snapshot; see --no-snapshot)" : ""}`);
    console.log(`heapTotal/conn: ${kb(memoryAfter.heapTotal - memoryBefore.heapTotal)} KB, external/conn: ${kb(memoryAfter.external - memoryBefore.external)} KB`);
    if (snapshots) {
      let before = readSnapshot(beforeFile);
      const beforeTotals = totalsByKey(before);
      const beforeIds = idsOf(before);
      before = null;
      printTables(beforeTotals, beforeIds, readSnapshot(afterFile), opened, top);
    }
  } finally {
    clearTimeout(watchdog);
    await ask({ type: "close" }, "closed").catch(() => {});
    client.disconnect();
    removeFaults();
    await server.close({ timeout: 2000 });
    rmSync(dir, { recursive: true, force: true });
  }
}


// Last, so every declaration above is initialized before it runs.
if (args[0] === "--client") runClient();
else await runServer();
