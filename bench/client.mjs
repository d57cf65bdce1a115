// The client bench (`npm run bench:client`): retopy's own RetopyClient and ioredis, side by
// side against the same examples/kv.ts server (bench/kv-server.mjs, a child process on
// 127.0.0.1), in interleaved rounds so both see the same machine state.
//
//   sequential: N awaited GETs one after the other (round-trip latency bound)
//   pipelined:  N GETs in batches, each batch one pipeline exec (throughput bound)
//
// Prints a Markdown table (median calls/s over the rounds, and RetopyClient / ioredis) and
// writes it to bench/client-results.md. Needs dist/ (npm run build). BENCH_QUICK=1: smaller N.
import { fork } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { RetopyClient } from "../dist/src/client/index.js";

const quick = process.env.BENCH_QUICK === "1";
const ROUNDS = quick ? 2 : 3;
const SEQUENTIAL = quick ? 2_000 : 20_000;
const PIPELINED = quick ? 20_000 : 200_000;
const BATCH = 1_000;
const KEY = "bench:client";

const server = fork(fileURLToPath(new URL("./kv-server.mjs", import.meta.url)), ["0"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
const [{ port }] = await once(server, "message");

const retopy = await RetopyClient.connect({ port });
const ioredis = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
ioredis.on("error", () => undefined);
await ioredis.connect();
await retopy.call("SET", KEY, "x".repeat(16));

/** The two clients behind one shape: one awaited call, and one pipelined batch. */
const clients = {
  RetopyClient: {
    call: () => retopy.call("GET", KEY),
    batch: async (n) => {
      const pipeline = retopy.pipeline();
      for (let i = 0; i < n; i++) pipeline.call("GET", KEY);
      const results = await pipeline.exec();
      if (results.length !== n || results[n - 1].error) throw new Error("RetopyClient batch failed");
    },
  },
  ioredis: {
    call: () => ioredis.call("GET", KEY),
    batch: async (n) => {
      const pipeline = ioredis.pipeline();
      for (let i = 0; i < n; i++) pipeline.get(KEY);
      const results = await pipeline.exec();
      if (results.length !== n || results[n - 1][0]) throw new Error("ioredis batch failed");
    },
  },
};

/** Calls per second of `n` sequential awaited calls. */
async function sequential(client, n) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await client.call();
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** Calls per second of `n` calls in pipelined batches of BATCH. */
async function pipelined(client, n) {
  const start = process.hrtime.bigint();
  for (let done = 0; done < n; done += BATCH) await client.batch(Math.min(BATCH, n - done));
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const scenarios = [
  { name: `sequential awaited GET (N=${SEQUENTIAL.toLocaleString("en")})`, run: (client) => sequential(client, SEQUENTIAL) },
  { name: `pipelined GET (N=${PIPELINED.toLocaleString("en")}, batches of ${BATCH.toLocaleString("en")})`, run: (client) => pipelined(client, PIPELINED) },
];
const names = Object.keys(clients);
const rates = new Map(scenarios.map((s) => [s.name, Object.fromEntries(names.map((n) => [n, []]))]));

// Warm-up: JIT both clients and the server before measuring.
for (const name of names) {
  await sequential(clients[name], 1_000);
  await pipelined(clients[name], 10_000);
}
for (let round = 0; round < ROUNDS; round++) {
  // Alternate who goes first, so neither always runs on a warmer (or more tired) server.
  const order = round % 2 === 0 ? names : [...names].reverse();
  for (const scenario of scenarios) {
    for (const name of order) rates.get(scenario.name)[name].push(await scenario.run(clients[name]));
  }
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}

const fmt = (n) => Math.round(n).toLocaleString("en");
const lines = [
  `# Client bench`,
  ``,
  `RetopyClient (RESP3) and ioredis ${(await import("ioredis/package.json", { with: { type: "json" } })).default.version} (RESP2) against the same examples/kv.ts server on 127.0.0.1, ` +
    `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "cpu"}; median of ${ROUNDS} interleaved rounds (calls/s, higher is better).`,
  ``,
  `| scenario | RetopyClient | ioredis | RetopyClient / ioredis |`,
  `|---|---:|---:|---:|`,
  ...scenarios.map((s) => {
    const r = median(rates.get(s.name).RetopyClient);
    const i = median(rates.get(s.name).ioredis);
    return `| ${s.name} | ${fmt(r)} | ${fmt(i)} | ${(r / i).toFixed(2)} |`;
  }),
  ``,
  `Produced by \`npm run bench:client\` (bench/client.mjs) on ${new Date().toISOString().slice(0, 10)}.`,
  ``,
];
const markdown = lines.join("\n");
process.stdout.write(markdown);
if (!quick) writeFileSync(new URL("./client-results.md", import.meta.url), markdown);

await retopy.close();
ioredis.disconnect();
server.disconnect(); // the child exits when the bench goes away
