// `retopy serve --workers`: throughput and CPU cost of node:cluster's two scheduling policies,
// against one process. Serves examples/kv.ts through the CLI (dist/, so `npm run build`
// first) in each configuration below, drives it with redis-benchmark (SET and GET), and
// reports requests per second and the server's CPU time per request: utime + stime from
// /proc/<pid>/stat of the primary and every worker, summed, before and after each test.
//
//   npm run build && node bench/workers.mjs
//
// Configurations: single (no --workers), rr-1 (--workers 1), rr-2 (--workers 2 --schedule rr),
// none-2 (--workers 2 --schedule none). Each (configuration, test) is its own redis-benchmark
// run, interleaved over rounds with the order rotating; every cell is the median of its rounds.
//
// Environment:
//   BENCH_REQUESTS=200000     requests per redis-benchmark run
//   BENCH_CLIENTS=50          connections (-c)
//   BENCH_PIPELINE=1,16       pipeline depths (-P) to run
//   BENCH_ROUNDS=3            rounds per cell
//   BENCH_CONFIGS=single,rr-1,rr-2,none-2
//   BENCH_PIN=0               1: run redis-benchmark under `taskset -c 0` (one core for the
//                             client); the servers may use every core. On a 2-core machine the
//                             client competes with the workers either way: say which you used.
//
// Also, for two workers: the busiest worker's share of all connections of the run (INFO's
// worker rows); 50% is an even split.
//
// Output: Markdown tables on stdout; progress on stderr.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "src", "cli.js");
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const PIPELINES = (process.env.BENCH_PIPELINE ?? "1,16").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PIN = process.env.BENCH_PIN === "1";
const TESTS = ["set", "get"];
const CONFIGS = {
  single: [],
  "rr-1": ["--workers", "1", "--schedule", "rr"],
  "rr-2": ["--workers", "2", "--schedule", "rr"],
  "none-2": ["--workers", "2", "--schedule", "none"],
};
const chosen = (process.env.BENCH_CONFIGS ?? Object.keys(CONFIGS).join(",")).split(",");
const TICKS_PER_SECOND = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100);

/** utime + stime of a process in seconds (0 once it is gone). */
function cpuSeconds(pid) {
  try {
    // The command name may hold spaces: the fields start after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Starts the server of `config`; resolves with its port and the pids to measure. */
function start(config) {
  const child = spawn(process.execPath, [CLI, "serve", "examples/kv.ts", "--port", "0", "--log-format", "json", ...CONFIGS[config]], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RETOPY_WORKERS: "" },
  });
  let out = "";
  const pids = new Set([child.pid]);
  const clustered = CONFIGS[config].length > 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${config} did not start: ${out}`)), 30_000);
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      out += chunk;
      for (const line of out.split("\n").slice(0, -1)) {
        const log = JSON.parse(line);
        if (typeof log.workerPid === "number") pids.add(log.workerPid);
        const ready = clustered ? log.msg === "workers listening" : log.msg === "listening";
        if (ready) {
          clearTimeout(timer);
          child.stdout.removeAllListeners("data");
          child.stdout.resume();
          resolve({ child, port: log.port, pids: [...pids] });
          return;
        }
      }
    });
    child.once("exit", (code) => reject(new Error(`${config} exited ${code}: ${out}`)));
  });
}

async function stop(server) {
  server.child.kill("SIGTERM");
  await new Promise((resolve) => server.child.once("exit", resolve));
}

function benchmark(port, test, pipeline) {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-t", test, "-n", String(REQUESTS), "-c", String(CLIENTS), "-P", String(pipeline), "-q", "--csv"];
  const [command, argv] = PIN ? ["taskset", ["-c", "0", "redis-benchmark", ...args]] : ["redis-benchmark", args];
  const run = spawnSync(command, argv, { encoding: "utf8", timeout: 600_000 });
  if (run.status !== 0) throw new Error(`redis-benchmark failed: ${run.stderr}`);
  // --csv: a header line, then "SET","123456.79",... (Redis 7).
  const row = run.stdout.trim().split("\n").find((line) => line.toUpperCase().startsWith(`"${test.toUpperCase()}"`));
  if (!row) throw new Error(`no ${test} row in: ${run.stdout}`);
  return Number(JSON.parse(`[${row}]`)[1]);
}

/** Under --workers: the busiest worker's share of the connections so far, from INFO's worker rows. */
function busiestShare(port) {
  const run = spawnSync("redis-cli", ["-p", String(port), "info", "workers"], { encoding: "utf8" });
  const totals = [...run.stdout.matchAll(/^worker\d+:.*connections_total=(\d+)/gm)].map((m) => Number(m[1]));
  const sum = totals.reduce((a, b) => a + b, 0);
  return totals.length < 2 || sum === 0 ? null : Math.max(...totals) / sum;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const shares = new Map(); // config → the busiest worker's share of connections, per round
const results = new Map(); // `${config} ${test} -P ${p}` → { rps: [], usPerRequest: [] }
for (let round = 0; round < ROUNDS; round++) {
  const order = chosen.slice(round % chosen.length).concat(chosen.slice(0, round % chosen.length));
  for (const config of order) {
    const server = await start(config);
    try {
      for (const pipeline of PIPELINES) {
        for (const test of TESTS) {
          const before = server.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
          const rps = benchmark(server.port, test, pipeline);
          const after = server.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
          const key = `${config}|${test}|${pipeline}`;
          const cell = results.get(key) ?? { rps: [], usPerRequest: [] };
          cell.rps.push(rps);
          cell.usPerRequest.push(((after - before) * 1e6) / REQUESTS);
          results.set(key, cell);
          process.stderr.write(`round ${round + 1}/${ROUNDS} ${config} ${test} -P ${pipeline}: ${Math.round(rps)} req/s\n`);
        }
      }
      const share = busiestShare(server.port);
      if (share !== null) (shares.get(config) ?? shares.set(config, []).get(config)).push(share);
    } finally {
      await stop(server);
    }
  }
}

const lines = [
  `redis-benchmark -n ${REQUESTS} -c ${CLIENTS}${PIN ? " under taskset -c 0" : ""}, median of ${ROUNDS} round(s); CPU: primary + workers, utime + stime`,
  "",
  "| configuration | test | -P | req/s | server CPU µs/request |",
  "|---|---|---:|---:|---:|",
];
for (const pipeline of PIPELINES) {
  for (const test of TESTS) {
    for (const config of chosen) {
      const cell = results.get(`${config}|${test}|${pipeline}`);
      if (!cell) continue;
      lines.push(`| ${config} | ${test.toUpperCase()} | ${pipeline} | ${Math.round(median(cell.rps))} | ${median(cell.usPerRequest).toFixed(2)} |`);
    }
  }
}
if (shares.size > 0) {
  lines.push("", "| configuration | busiest worker's share of connections |", "|---|---:|");
  for (const [config, values] of shares) lines.push(`| ${config} | ${(median(values) * 100).toFixed(0)}% |`);
}
process.stdout.write(`${lines.join("\n")}\n`);
