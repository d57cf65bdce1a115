// Text-protocol throughput: retopy beside a bare node:net baseline, in the same run.
// Each server runs in its own process; this process is the client: 50 connections, each
// keeping one batch of P pipelined `ping` lines in flight, for a bounded time per round.
// Rounds alternate between the servers; the median of each is reported with the ratio.
//   npm run build && node bench/text-pipeline.mjs [seconds-per-round=3] [rounds=3]
import { spawn } from "node:child_process";
import net from "node:net";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const SECONDS = Number(process.argv[2] ?? 3);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONNECTIONS = 50;
const serverScript = fileURLToPath(new URL("./text-server.mjs", import.meta.url));

async function startServer(target) {
  const child = spawn(process.execPath, [serverScript, target], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = await once(child.stdout, "data");
  return { child, port: Number(String(line).trim()) };
}

/** Drives 127.0.0.1:port for SECONDS; resolves with replies per second. */
function drive(port, pipeline) {
  return new Promise((resolve) => {
    const batch = "ping\r\n".repeat(pipeline);
    const end = Date.now() + SECONDS * 1000;
    let answered = 0;
    let open = CONNECTIONS;
    for (let i = 0; i < CONNECTIONS; i++) {
      const socket = net.connect(port, "127.0.0.1", () => socket.write(batch));
      let pending = 0;
      socket.on("data", (chunk) => {
        for (const byte of chunk) if (byte === 10) pending++;
        while (pending >= pipeline) {
          pending -= pipeline;
          answered += pipeline;
          if (Date.now() < end) socket.write(batch);
          else {
            socket.destroy();
            if (--open === 0) resolve(answered / SECONDS);
            return;
          }
        }
      });
    }
  });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const rows = [];
for (const pipeline of [1, 16]) {
  const results = { bare: [], retopy: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of ["bare", "retopy"]) {
      const { child, port } = await startServer(target);
      results[target].push(await drive(port, pipeline));
      child.kill();
      await once(child, "exit");
    }
  }
  const bare = median(results.bare);
  const retopy = median(results.retopy);
  rows.push({ pipeline, bare: Math.round(bare), retopy: Math.round(retopy), ratio: (retopy / bare).toFixed(2) });
}
console.log(`node ${process.version}, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS}s, median req/s`);
console.table(rows);
