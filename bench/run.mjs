// `npm run bench`: retopy (examples/kv.ts), a bare node:net server (bench/baseline-server.mjs)
// and redis-server, each in its own process on 127.0.0.1, driven by redis-benchmark.
//
//   npm run build && node bench/run.mjs
//
// Sections: throughput of PING_INLINE, PING_MBULK, SET, GET and INCR at -P 1 and -P 16 with
// 50 connections; SET/GET with 50, 1,000 and 5,000 connections; SET/GET of 100 KB values; and the memory
// of 10,000 idle connections, with a heap snapshot diff of 1,000 (bench/heap-diff.mjs). Each (test, -P) runs as its own redis-benchmark process, so
// the server's CPU time (utime + stime from /proc/<pid>/stat, every thread) is per test.
// Within each section the rounds are interleaved — for each round, for each test, for each
// server, the server order rotating each round — and every cell is the median over its
// rounds (each metric on its own). Every section starts fresh server processes.
//
// Before a server is loaded with a test, one connection checks that it answers that test's
// command correctly (a RESP PING must get +PONG, a SET +OK...); a server that fails gets an
// error note in its rows instead of numbers, and the run goes on.
//
// Environment:
//   BENCH_SERVERS=baseline,redis,retopy   which servers, in this order (default: all three);
//                                         retopy-inspect is retopy with `inspect` on (no viewer);
//                                         retopy-heap (10 MB more live heap) joins the 100 KB section
//   BENCH_INSPECT=1                       adds retopy-inspect after retopy
//   BENCH_ROUNDS=3                        rounds per cell (default 3; 1 with BENCH_QUICK)
//   BENCH_SCALE=1                         multiplies every request count (default 1; 0.25 quick)
//   BENCH_QUICK=1                         a few minutes: 1 round at scale 0.25 (the full run: about 12)
//   BENCH_IDLE_CONNECTIONS=10000          connections of the memory section (0 skips it)
//   BENCH_SECTIONS=throughput,clients,values,memory   which sections to run (default: all;
//                                         a partial run prints its tables but leaves results.md)
//   BENCH_IDLE_SETTLE_MS=12000            idle time before the memory section's second reading
//   BENCH_MAX_MINUTES=20                  after this, the remaining runs are skipped with a note
//   BENCH_KV_FAULTS=0                     retopy serves without handleProcessFaults (as an embedding program)
//   BENCH_KV_BALLAST_MB=10                retopy keeps that much extra live heap (see bench/kv-server.mjs)
//
// Output: Markdown on stdout and in bench/results.md; progress on stderr.
import { execFileSync, fork, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { fileURLToPath } from "node:url";

const HOST = "127.0.0.1";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = fileURLToPath(new URL("./results.md", import.meta.url));
const KNOWN_SERVERS = ["baseline", "redis", "retopy", "retopy-inspect", "retopy-heap"];
/**
 * retopy with 10 MB more live heap (BENCH_KV_BALLAST_MB=10), run in the 100 KB section
 * beside retopy: on a heap of 8-12 MB that churns large Buffers V8 marks the old generation
 * almost without pause, and this row shows the same server past that range.
 */
const HEAP_VARIANT = "retopy-heap";
const DEFAULT_SERVERS = ["baseline", "redis", "retopy"];
const TESTS = ["ping_inline", "ping_mbulk", "set", "get", "incr"];
const BIG_VALUE = 100 * 1024;

// ---- configuration -------------------------------------------------------------------------

function envNumber(name, fallback, { min = 0, integer = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    fail(`${name}=${raw} is not a${integer ? "n integer" : " number"} >= ${min}`, 2);
  }
  return value;
}

function fail(message, code = 1) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

const QUICK = process.env.BENCH_QUICK === "1";
const ROUNDS = envNumber("BENCH_ROUNDS", QUICK ? 1 : 3, { min: 1, integer: true });
const SCALE = envNumber("BENCH_SCALE", QUICK ? 0.25 : 1, { min: 0.001 });
const IDLE_SETTLE_MS = Number(process.env.BENCH_IDLE_SETTLE_MS ?? 12_000);
const IDLE_CONNECTIONS = (process.env.BENCH_SECTIONS ?? "memory").split(",").some((id) => id.trim() === "memory")
  ? envNumber("BENCH_IDLE_CONNECTIONS", 10_000, { integer: true })
  : 0;
const MAX_MINUTES = envNumber("BENCH_MAX_MINUTES", 20, { min: 1 });
const SERVERS = (process.env.BENCH_SERVERS ?? DEFAULT_SERVERS.join(","))
  .split(",")
  .map((s) => s.trim().toLowerCase())
  .filter(Boolean);
if (process.env.BENCH_INSPECT === "1" && !SERVERS.includes("retopy-inspect")) {
  const at = SERVERS.indexOf("retopy");
  SERVERS.splice(at === -1 ? SERVERS.length : at + 1, 0, "retopy-inspect");
}
for (const name of SERVERS) {
  if (!KNOWN_SERVERS.includes(name)) fail(`unknown server '${name}' in BENCH_SERVERS (known: ${KNOWN_SERVERS.join(", ")})`, 2);
}
if (SERVERS.length === 0) fail("BENCH_SERVERS selects no server", 2);

const scaled = (n) => Math.max(1000, Math.round(n * SCALE));

/** One redis-benchmark run: a single test at one pipeline depth. */
function cell(section, test, { pipeline = 1, clients = 50, requests, size = 3 }) {
  return { section, test, pipeline, clients, requests: scaled(requests), size };
}

const ALL_SECTIONS = [
  {
    id: "throughput",
    title: "Throughput, 50 connections",
    cells: [1, 16].flatMap((pipeline) =>
      TESTS.map((test) => cell("throughput", test, { pipeline, requests: pipeline === 1 ? 150_000 : 1_500_000 })),
    ),
  },
  {
    id: "clients",
    title: "Many connections (-P 1): 50, 1,000 and 5,000 clients",
    // The curve shows whatever grows with the number of connections (per-read work, timers,
    // lookups, write scheduling): a flat ratio from 50 to 5,000 means nothing does.
    cells: [50, 1000, 5000].flatMap((clients) =>
      ["set", "get"].map((test) => cell("clients", test, { clients, requests: clients >= 5000 ? 250_000 : 150_000 })),
    ),
    showClients: true,
  },
  {
    id: "values",
    title: "100 KB values (-d 102400, -P 1, 50 connections)",
    cells: ["set", "get"].map((test) => cell("values", test, { requests: 20_000, size: BIG_VALUE })),
    withHeapVariant: true,
    note:
      "retopy-heap is the same retopy holding 10 MB more live heap (BENCH_KV_BALLAST_MB=10). With a heap of 8-12 MB, " +
      "as the kv example's is, V8 (Node 20) keeps incremental marking running while large Buffers churn: the old generation's " +
      "allocation limit stays within one young generation of its size, so a full mark-compact follows every few milliseconds " +
      "(`node --trace-gc`); past that range the same server needs no full GC.",
  },
];
const SECTION_IDS = [...ALL_SECTIONS.map((s) => s.id), "memory"];
const CHOSEN = (process.env.BENCH_SECTIONS ?? SECTION_IDS.join(","))
  .split(",")
  .map((id) => id.trim())
  .filter(Boolean);
for (const id of CHOSEN) if (!SECTION_IDS.includes(id)) fail(`BENCH_SECTIONS: unknown section '${id}' (known: ${SECTION_IDS.join(", ")})`);
const SECTIONS = ALL_SECTIONS.filter((s) => CHOSEN.includes(s.id));

/** The servers a section runs, by name: every chosen one, and the heap variant only where it belongs. */
function serversOf(section) {
  const all = heapVariantRuns && section.withHeapVariant ? [...SERVERS, HEAP_VARIANT] : SERVERS;
  return all;
}

/** Seconds a run may take before `timeout` stops it: generous, since a slow server is a result. */
function runLimit(c) {
  const slowest = c.size > 1024 ? 1000 : c.pipeline > 1 ? 20_000 : 5000; // req/s
  return Math.min(300, Math.max(30, Math.ceil(c.requests / slowest)));
}

// ---- child processes -----------------------------------------------------------------------

const children = new Set();

function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function killAll(signal = "SIGTERM") {
  // SIGTERM, not SIGKILL: `timeout` forwards it to the redis-benchmark it runs.
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

process.on("exit", () => killAll());
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping the servers\n`);
    killAll();
    process.exit(130);
  });
}

function which(command) {
  return spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).status === 0;
}

function version(command, pattern) {
  try {
    const text = execFileSync(command, ["--version"], { encoding: "utf8", timeout: 5000 });
    return pattern.exec(text)?.[1] ?? text.trim();
  } catch {
    return "not installed";
  }
}

function clockTicks() {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}
const CLK_TCK = clockTicks();

/** utime + stime of a whole process (every thread), in clock ticks; null once it is gone. */
function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** VmRSS of a process in bytes, or null. */
function rssBytes(pid) {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Last lines of a child's stderr, for error notes. */
function collectStderr(child) {
  let text = "";
  child.stderr?.on("data", (chunk) => {
    text = (text + chunk).slice(-4000);
  });
  return () => text.trim().split("\n").slice(-3).join(" | ");
}

/**
 * A started server: { name, pid, port, child, ipc, error, stderr() }. A server that could not
 * start has `error` set and no pid; the run goes on without it.
 */
async function startServer(name) {
  const server = { name, pid: null, port: null, child: null, ipc: false, error: null, stderr: () => "" };
  try {
    if (name === "redis") {
      if (!which("redis-server")) throw new Error("redis-server is not on PATH (apt-get install redis-server); skipped");
      const port = await freePort();
      const child = track(
        spawn(
          "redis-server",
          ["--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", os.tmpdir(), "--maxclients", String(Math.max(10_000, IDLE_CONNECTIONS + 1000))],
          { stdio: ["ignore", "ignore", "pipe"] },
        ),
      );
      Object.assign(server, { child, port, pid: child.pid, stderr: collectStderr(child) });
      const exited = once(child, "exit").then(([code]) => {
        throw new Error(`redis-server exited (${code}): ${server.stderr()}`);
      });
      exited.catch(() => {});
      // Poll until it answers PING: at most 10 s.
      await Promise.race([
        exited,
        (async () => {
          for (let i = 0; i < 100; i++) {
            const reply = await exchange(port, "PING\r\n", 7, 500).catch(() => "");
            if (reply === "+PONG\r\n") return;
            await sleep(100);
          }
          throw new Error("redis-server did not answer PING within 10 s");
        })(),
      ]);
      return server;
    }
    const kv = name === "retopy" || name === "retopy-inspect" || name === HEAP_VARIANT;
    const script = kv ? "kv-server.mjs" : "baseline-server.mjs";
    if (kv && !existsSync(new URL("../dist/src/index.js", import.meta.url))) {
      throw new Error("dist/ is missing: run `npm run build` first");
    }
    const child = track(
      fork(fileURLToPath(new URL(`./${script}`, import.meta.url)), [], {
        cwd: ROOT,
        execArgv: ["--expose-gc"],
        stdio: ["ignore", "ignore", "pipe", "ipc"],
        env: {
          ...process.env,
          BENCH_KV_INSPECT: name === "retopy-inspect" ? "1" : "",
          ...(name === HEAP_VARIANT && { BENCH_KV_BALLAST_MB: "10" }),
        },
      }),
    );
    Object.assign(server, { child, pid: child.pid, ipc: true, stderr: collectStderr(child) });
    const listening = new Promise((resolve, reject) => {
      child.on("message", (message) => {
        if (message?.type === "listening") resolve(message.port);
      });
      child.once("exit", (code) => reject(new Error(`${script} exited (${code}) before listening: ${server.stderr()}`)));
    });
    server.port = await withTimeout(listening, 30_000, `${script} did not listen within 30 s`);
    return server;
  } catch (error) {
    server.error = error.message;
    if (server.child) await stopServer(server);
    server.pid = null;
    return server;
  }
}

async function stopServer(server) {
  const child = server.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const exited = once(child, "exit");
  if ((await Promise.race([exited, sleep(5000).then(() => "late")])) === "late") {
    child.kill("SIGKILL");
    await exited;
  }
}

function alive(server) {
  return server.child !== null && server.child.exitCode === null && server.child.signalCode === null;
}

// ---- probes: does the server answer each test's command correctly? -------------------------

function resp(...args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, "latin1");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/**
 * Sends `request` on a fresh connection and resolves with what came back once `expectedLength`
 * bytes (and anything arriving 50 ms later) are in, or when the time is up or the peer closes.
 */
function exchange(port, request, expectedLength, ms = 2000) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let length = 0;
    let settleTimer = null;
    const socket = net.connect(port, HOST, () => socket.write(request));
    const done = () => {
      clearTimeout(timer);
      clearTimeout(settleTimer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    };
    const timer = setTimeout(done, ms);
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= expectedLength && !settleTimer) settleTimer = setTimeout(done, 50);
    });
    socket.on("end", done);
    socket.on("error", (error) => {
      clearTimeout(timer);
      clearTimeout(settleTimer);
      socket.destroy();
      reject(error);
    });
  });
}

/** What redis-benchmark sends for a test, as one request, and the exact reply it needs. */
function probeFor(c) {
  const value = "x".repeat(c.size); // redis-benchmark fills values with 'x'
  const stored = `+OK\r\n$${value.length}\r\n${value}\r\n`;
  switch (c.test) {
    case "ping_inline":
      return { label: "inline PING", request: Buffer.from("PING\r\n"), reply: "+PONG\r\n" };
    case "ping_mbulk":
      return { label: "RESP PING", request: resp("PING"), reply: "+PONG\r\n" };
    case "set":
      return { label: "RESP SET", request: resp("SET", "bench:probe", value), reply: "+OK\r\n" };
    case "get":
      return {
        label: "RESP SET then GET",
        request: Buffer.concat([resp("SET", "bench:probe", value), resp("GET", "bench:probe")]),
        reply: stored,
      };
    case "incr":
      return {
        label: "RESP SET 41 then INCR",
        request: Buffer.concat([resp("SET", "bench:probe:n", "41"), resp("INCR", "bench:probe:n")]),
        reply: "+OK\r\n:42\r\n",
      };
    default:
      throw new Error(`no probe for ${c.test}`);
  }
}

const shown = (text, max = 80) => {
  const escaped = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  return text.length > max ? `${escaped}… (${text.length} bytes)` : escaped;
};

/** null when the server answers like Redis, else an error note. */
async function probe(server, c) {
  const { label, request, reply } = probeFor(c);
  try {
    const got = await exchange(server.port, request, reply.length);
    if (got === reply) return null;
    return `${label}: expected ${shown(reply)}, got ${got ? shown(got) : "no reply within 2 s"}`;
  } catch (error) {
    return `${label}: ${error.message}`;
  }
}

// ---- redis-benchmark -----------------------------------------------------------------------

function benchmarkArgs(port, c) {
  const args = ["-h", HOST, "-p", String(port), "-c", String(c.clients), "-n", String(c.requests)];
  if (c.size !== 3) args.push("-d", String(c.size));
  args.push("-P", String(c.pipeline), "-t", c.test, "--csv");
  return args;
}

/** Parses redis-benchmark --csv: the row of `test`, as numbers. */
function parseCsv(text, test) {
  const lines = text.split(/\r?\n/).filter((line) => line.startsWith('"'));
  const header = lines.find((line) => line.startsWith('"test"'));
  if (!header) return null;
  const columns = header.split(",").map((column) => column.replaceAll('"', ""));
  for (const line of lines) {
    const values = line.split(",").map((value) => value.replaceAll('"', ""));
    if (values[0]?.toLowerCase() !== test) continue;
    const row = {};
    columns.forEach((column, i) => {
      row[column] = column === "test" ? values[i] : Number(values[i]);
    });
    return row;
  }
  return null;
}

/** Runs one cell against one server: { rps, p50, p99, cpu } or { error }. */
async function runBenchmark(server, c) {
  if (!alive(server)) return { error: `server is not running: ${server.stderr() || "exited"}` };
  const limit = runLimit(c);
  if (c.test === "get") {
    // GET reads the key SET writes (`key:__rand_int__` without -r): give it this cell's value
    // size here, so GET never depends on whether or when the SET run went through.
    const reply = await exchange(server.port, resp("SET", "key:__rand_int__", "x".repeat(c.size)), 5).catch((error) => error.message);
    if (reply !== "+OK\r\n") return { error: `could not SET the key GET reads: ${shown(reply)}` };
  }
  const before = cpuTicks(server.pid);
  const child = track(
    spawn("timeout", ["-k", "5", String(limit), "redis-benchmark", ...benchmarkArgs(server.port, c)], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  let stdout = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  const stderr = collectStderr(child);
  const [code] = await once(child, "exit");
  const after = cpuTicks(server.pid);
  if (code === 124 || code === 137) return { error: `redis-benchmark timed out after ${limit} s` };
  if (code !== 0) return { error: `redis-benchmark exited ${code}: ${stderr() || stdout.trim().slice(-200)}` };
  const row = parseCsv(stdout, c.test);
  if (!row || !(row.rps > 0)) return { error: `no CSV row for ${c.test.toUpperCase()} in: ${shown(stdout.trim(), 200)}` };
  const cpu = before !== null && after !== null ? ((after - before) / CLK_TCK / c.requests) * 1e6 : NaN;
  return { rps: row.rps, p50: row.p50_latency_ms, p99: row.p99_latency_ms, cpu };
}

// ---- idle connections ------------------------------------------------------------------------

/** process.memoryUsage() of a forked server after its forced GC, or null. */
function childMemory(server) {
  if (!server.ipc || !alive(server)) return Promise.resolve(null);
  return withTimeout(
    new Promise((resolve) => {
      const onMessage = (message) => {
        if (message?.type !== "memory") return;
        server.child.off("message", onMessage);
        resolve(message.usage);
      };
      server.child.on("message", onMessage);
      server.child.send("memory");
    }),
    10_000,
    "no memory report within 10 s",
  ).catch(() => null);
}

/**
 * Frees what the server holds but does not use before RSS is read: a forced GC for the Node
 * servers (resolves with process.memoryUsage()), MEMORY PURGE for redis (jemalloc returns its
 * dirty pages). Resolves null when there is no heap to report.
 */
async function settleMemory(server) {
  if (server.ipc) return childMemory(server);
  if (server.name === "redis") await exchange(server.port, resp("MEMORY", "PURGE"), 5).catch(() => "");
  return null;
}

/** Opens one connection, sends an inline PING and resolves with the socket once +PONG is back. */
function idleConnection(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST, () => socket.write("PING\r\n"));
    let got = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no +PONG within 15 s"));
    }, 15_000);
    socket.on("data", (chunk) => {
      got += chunk.toString("latin1");
      if (got.length < 7) return;
      clearTimeout(timer);
      socket.removeAllListeners("data");
      if (got === "+PONG\r\n") resolve(socket);
      else {
        socket.destroy();
        reject(new Error(`PING got ${shown(got)}`));
      }
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/** Opens `count` idle connections (in batches of 500, 120 s at most) and measures the server. */
async function measureIdle(server, count) {
  // Warm the accept and PING paths first, so `before` is not the cold process.
  const warm = await Promise.allSettled(Array.from({ length: 100 }, () => idleConnection(server.port)));
  for (const result of warm) if (result.status === "fulfilled") result.value.destroy();
  await sleep(1000);
  const heapBefore = await settleMemory(server);
  const rssBefore = rssBytes(server.pid);

  const sockets = [];
  let error = null;
  let emfile = false;
  const deadline = Date.now() + 120_000;
  while (sockets.length < count && !error) {
    if (Date.now() > deadline) {
      error = `only ${sockets.length} connections opened within 120 s`;
      break;
    }
    const batch = Math.min(500, count - sockets.length);
    const results = await Promise.allSettled(Array.from({ length: batch }, () => idleConnection(server.port)));
    for (const result of results) {
      if (result.status === "fulfilled") sockets.push(result.value);
      else if (!error) {
        const reason = result.reason;
        if (reason?.code === "EMFILE") emfile = true;
        error =
          reason?.code === "EMFILE"
            ? `EMFILE after ${sockets.length} connections: the open-file limit is too low; raise it (e.g. \`ulimit -n ${count * 2 + 1024}\`) and run again`
            : `after ${sockets.length} connections: ${reason?.message ?? reason}`;
      }
    }
  }
  // Out of descriptors, this process could not even read /proc: give a few back.
  if (emfile) for (let i = 0; i < 32 && sockets.length > 0; i++) sockets.pop().destroy();
  // Let the servers settle into their idle state: redis shrinks an idle client's 16 KB query
  // buffer once it has been idle for more than 2 s (in its once-a-second client cron), and
  // V8's memory reducer shrinks a Node server's young generation after about 8 s without
  // allocation. Read earlier, a Node server's RSS swings by some 30 MB from run to run,
  // depending on whether the burst of connections had grown that young generation.
  await sleep(IDLE_SETTLE_MS);
  const heapAfter = await settleMemory(server);
  const rssAfter = rssBytes(server.pid);
  for (const socket of sockets) socket.destroy();
  const opened = sockets.length;
  const result = { opened, rssBefore, rssAfter, error };
  if (opened > 0 && rssBefore !== null && rssAfter !== null) result.rssPerConnection = (rssAfter - rssBefore) / opened;
  if (opened > 0 && heapBefore && heapAfter) result.heapPerConnection = (heapAfter.heapUsed - heapBefore.heapUsed) / opened;
  return result;
}

// ---- report ----------------------------------------------------------------------------------

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const fmt = (value, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "—";
const ratio = (value, base) => (Number.isFinite(value) && Number.isFinite(base) && base > 0 ? `${(value / base).toFixed(2)}×` : "—");
const cellText = (text) => String(text).replaceAll("|", "\\|").replaceAll("\n", " ");

function throughputTable(section, results, notes) {
  const lines = [
    `## ${section.title}`,
    "",
    `| test | -P |${section.showClients ? " clients |" : ""} server | req/s | p50 ms | p99 ms | CPU µs/req | req/s vs baseline | CPU/req vs baseline |`,
    `|---|--:|${section.showClients ? "--:|" : ""}---|--:|--:|--:|--:|--:|--:|`,
  ];
  const lead = (c) => `| ${c.test.toUpperCase()} | ${c.pipeline} |${section.showClients ? ` ${fmt(c.clients)} |` : ""}`;
  for (const c of section.cells) {
    const summary = (name) => {
      const runs = results.get(key(c, name)) ?? [];
      const ok = runs.filter((run) => !run.error);
      return {
        runs,
        ok,
        rps: median(ok.map((run) => run.rps)),
        p50: median(ok.map((run) => run.p50)),
        p99: median(ok.map((run) => run.p99)),
        cpu: median(ok.map((run) => run.cpu)),
      };
    };
    const base = SERVERS.includes("baseline") ? summary("baseline") : null;
    for (const name of serversOf(section)) {
      const s = summary(name);
      const failed = s.runs.filter((run) => run.error);
      for (const run of failed) addNote(notes, name, run.error);
      if (s.ok.length === 0) {
        const why = failed.length ? `error${noteRef(notes, name, failed[0].error)}` : "not run";
        lines.push(`${lead(c)} ${name} | ${why} | — | — | — | — | — |`);
        continue;
      }
      const partial = failed.length ? ` (${s.ok.length}/${s.runs.length} runs${noteRef(notes, name, failed[0].error)})` : "";
      lines.push(
        `${lead(c)} ${name} | ${fmt(s.rps)}${partial} | ${fmt(s.p50, 3)} | ${fmt(s.p99, 3)} | ${fmt(s.cpu, 2)} | ${
          name === "baseline" || !base ? "" : ratio(s.rps, base.rps)
        } | ${name === "baseline" || !base ? "" : ratio(s.cpu, base.cpu)} |`,
      );
    }
  }
  if (section.note && serversOf(section).includes(HEAP_VARIANT)) lines.push("", section.note);
  return lines;
}

function addNote(notes, server, text) {
  const note = `${server}: ${cellText(text)}`;
  if (!notes.includes(note)) notes.push(note);
  return notes.indexOf(note) + 1;
}
const noteRef = (notes, server, text) => ` [${addNote(notes, server, text)}]`;

function memoryTable(memory, notes) {
  const lines = [
    `## Memory per idle connection (${fmt(IDLE_CONNECTIONS)} connections, each after one inline PING)`,
    "",
    "| server | connections | RSS before MB | RSS after MB | RSS KB/conn | heapUsed KB/conn | RSS vs baseline |",
    "|---|--:|--:|--:|--:|--:|--:|",
  ];
  const base = memory.get("baseline");
  for (const [name, m] of memory) {
    if (m.skipped) {
      lines.push(`| ${name} | error${noteRef(notes, name, m.skipped)} | — | — | — | — | — |`);
      continue;
    }
    const mb = (bytes) => (typeof bytes === "number" ? fmt(bytes / 2 ** 20, 1) : "—");
    const kb = (bytes) => (typeof bytes === "number" ? fmt(bytes / 1024, 2) : "—");
    const opened = m.error ? `${fmt(m.opened)}${noteRef(notes, name, m.error)}` : fmt(m.opened);
    lines.push(
      `| ${name} | ${opened} | ${mb(m.rssBefore)} | ${mb(m.rssAfter)} | ${kb(m.rssPerConnection)} | ${
        m.heapPerConnection === undefined ? "n/a" : kb(m.heapPerConnection)
      } | ${name === "baseline" || !base ? "" : ratio(m.rssPerConnection, base.rssPerConnection)} |`,
    );
  }
  lines.push(
    "",
    "RSS is VmRSS from /proc/<pid>/status and heapUsed is process.memoryUsage().heapUsed, each read before the",
    `connections were opened (after 100 warm-up connections came and went) and again once they had been idle for ${fmt(IDLE_SETTLE_MS / 1000)} s`,
    "(long enough for redis to shrink idle query buffers and for V8's memory reducer to shrink the young generation);",
    "every read follows a forced GC in the Node servers and MEMORY PURGE in redis.",
  );
  return lines;
}

const key = (c, server) => `${c.section}|${c.test}|${c.pipeline}|${c.clients}|${c.size}|${server}`;

// ---- main ------------------------------------------------------------------------------------

if (!which("redis-benchmark")) {
  fail("redis-benchmark is not installed. Install it with:\n\n    sudo apt-get install redis-tools redis-server\n");
}
if (!which("timeout")) fail("`timeout` (GNU coreutils) is not installed: sudo apt-get install coreutils");

const startedAt = Date.now();
const budgetLeft = () => Date.now() - startedAt < MAX_MINUTES * 60_000;
const progress = (text) => process.stderr.write(`${text}\n`);

function gitRevision() {
  try {
    return execFileSync("git", ["-C", ROOT, "describe", "--always", "--dirty"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

const cpus = os.cpus();
const header = [
  "# retopy benchmark",
  "",
  `- Machine: ${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, ${os.type()} ${os.release()} ${os.arch()}, ${fmt(os.totalmem() / 2 ** 30, 1)} GB`,
  `- Node ${process.version}; redis-server ${version("redis-server", /v=(\S+)/)}; redis-benchmark ${version("redis-benchmark", /redis-benchmark (\S+)/)}`,
  `- ${new Date(startedAt).toISOString()}, retopy ${gitRevision()}; servers: ${SERVERS.join(", ")}; ${ROUNDS} round${ROUNDS > 1 ? "s" : ""} (each runs every test on every server in turn, the server order rotating), median per cell; BENCH_SCALE=${SCALE}${QUICK ? " (BENCH_QUICK)" : ""}`,
  "- redis-benchmark runs on the same machine as the servers, so at -P 1 the client is part of what is measured.",
  "  CPU µs/req is the server process's own utime + stime (all threads) during the run, per request.",
  "",
];

const results = new Map();
const notes = [];
const heapVariantRuns = SERVERS.includes("retopy") && !SERVERS.includes(HEAP_VARIANT) && SECTIONS.some((s) => s.withHeapVariant);
const probeErrors = new Map();
const totalRuns = SECTIONS.reduce((n, s) => n + s.cells.length * serversOf(s).length, 0) * ROUNDS;
let runNumber = 0;

// Each section starts its own server processes: a Node server's GC state (the size its young
// generation grew to, where its heap limit stands) depends on what it ran before, and the
// 100 KB case changed by 2x after the throughput section in the same process.
for (const section of SECTIONS) {
  const servers = [];
  for (const name of serversOf(section)) {
    progress(`${section.id}: starting ${name}…`);
    const server = await startServer(name);
    if (server.error) progress(`  ${name}: ${server.error}`);
    else progress(`  ${name}: pid ${server.pid}, port ${server.port}`);
    servers.push(server);
  }

  // Probe every (server, cell) once; a failed probe becomes the error of each of its runs. A
  // server that cannot answer a RESP PING gets that one note for every RESP test.
  const respPing = new Map(
    await Promise.all(servers.map(async (server) => [server.name, server.error ?? (await probe(server, cell("probe", "ping_mbulk", { requests: 0 })))])),
  );
  for (const c of section.cells) {
    for (const server of servers) {
      const error = server.error || (c.test !== "ping_inline" ? respPing.get(server.name) : null) || (await probe(server, c));
      if (!error) continue;
      const reported = [...probeErrors.values()].includes(error);
      probeErrors.set(key(c, server.name), error);
      if (!server.error && !reported) progress(`  ${server.name} fails the ${c.test.toUpperCase()}${c.size !== 3 ? ` -d ${c.size}` : ""} probe, skipped: ${error}`);
    }
  }

  // Warm-up (not recorded) on this section's own tests: JIT for the Node servers, allocator for all.
  for (const server of servers) {
    if (server.error) continue;
    progress(`warming up ${server.name}…`);
    for (const c of section.cells) {
      if (probeErrors.has(key(c, server.name))) continue;
      await runBenchmark(server, { ...c, section: "warmup", requests: Math.max(1000, Math.round(c.requests / 10)) });
    }
  }

  for (let round = 0; round < ROUNDS; round++) {
    for (const c of section.cells) {
      // Rotate the server order each round so none always runs right after another.
      const order = servers.map((_, i) => servers[(i + round) % servers.length]);
      for (const server of order) {
        runNumber++;
        const k = key(c, server.name);
        const runs = results.get(k) ?? [];
        results.set(k, runs);
        const label = `[${runNumber}/${totalRuns}] ${section.id} round ${round + 1}: ${c.test.toUpperCase()} -P ${c.pipeline} -c ${c.clients}${
          c.size !== 3 ? ` -d ${c.size}` : ""
        } ${server.name}`;
        let run;
        if (probeErrors.has(k)) run = { error: probeErrors.get(k), probe: true };
        else if (runs.some((r) => r.error)) continue; // failed once: do not spend time on it again
        else if (!budgetLeft()) run = { error: `skipped: BENCH_MAX_MINUTES=${MAX_MINUTES} reached` };
        else run = await runBenchmark(server, c);
        if (run.probe && round > 0) continue; // one note is enough
        runs.push(run);
        if (!run.probe) progress(`${label}: ${run.error ? `error: ${run.error}` : `${fmt(run.rps)} req/s, ${fmt(run.cpu, 2)} µs CPU/req`}`);
      }
    }
  }
  for (const server of servers) await stopServer(server);
}

// Memory: fresh processes, so the load sections leave nothing behind.
const memory = new Map();
if (IDLE_CONNECTIONS > 0) {
  for (const name of SERVERS) {
    if (!budgetLeft()) {
      memory.set(name, { skipped: `skipped: BENCH_MAX_MINUTES=${MAX_MINUTES} reached` });
      continue;
    }
    progress(`memory: ${name}, ${IDLE_CONNECTIONS} idle connections…`);
    const server = await startServer(name);
    if (server.error) {
      memory.set(name, { skipped: server.error });
      continue;
    }
    const probeError = await probe(server, cell("memory", "ping_inline", { requests: 0 }));
    if (probeError) memory.set(name, { skipped: probeError });
    else {
      const m = await measureIdle(server, IDLE_CONNECTIONS);
      memory.set(name, m);
      progress(`  ${name}: ${fmt(m.opened)} connections, ${fmt(m.rssPerConnection / 1024, 2)} KB RSS each${m.error ? ` (${m.error})` : ""}`);
    }
    await stopServer(server);
  }
}

// What one idle retopy connection holds, by constructor and by owner: a heap snapshot diff
// of 1,000 connections (bench/heap-diff.mjs, in its own process).
let heapDiff = null;
if (IDLE_CONNECTIONS > 0 && SERVERS.includes("retopy") && budgetLeft()) {
  progress("memory: retopy heap snapshot diff of 1,000 idle connections…");
  const run = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(new URL("./heap-diff.mjs", import.meta.url)), "--top", "15"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  // Its RSS line is left out: writing a snapshot distorts RSS (the table above measures it).
  heapDiff =
    run.status === 0
      ? run.stdout
          .trim()
          .replace(/^## /, "## What an idle connection holds: ")
          .split("\n")
          .filter((line) => !line.startsWith("RSS/conn:"))
      : null;
  if (!heapDiff) addNote(notes, "retopy", `heap-diff failed: ${(run.stderr || run.error?.message || "").trim().split("\n").pop()}`);
}

const body = [...header];
for (const section of SECTIONS) body.push(...throughputTable(section, results, notes), "");
if (IDLE_CONNECTIONS > 0) body.push(...memoryTable(memory, notes), "");
if (heapDiff) body.push(...heapDiff, "");
if (notes.length) {
  body.push("## Notes", "");
  notes.forEach((note, i) => body.push(`${i + 1}. ${note}`));
  body.push("");
}
body.push(`Total time: ${fmt((Date.now() - startedAt) / 1000)} s.`, "");
const markdown = body.join("\n");
process.stdout.write(markdown);
// bench/results.md is the full table docs/performance.md quotes: a partial run only prints.
if (SECTIONS.length === ALL_SECTIONS.length && IDLE_CONNECTIONS > 0) {
  writeFileSync(RESULTS, markdown);
  progress(`\nwritten to ${RESULTS}`);
}
