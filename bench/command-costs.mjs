// `npm run bench:commands`: where one pipelined command's time goes inside retopy, measured
// in process: examples/kv.ts GET and SET in reads of 16 (redis-benchmark's -P 16), each read
// decoded, handed to the handler actor and run by a real CommandRunner, its replies written
// to a real loopback socket that a peer drains.
//
//   npm run build && node bench/command-costs.mjs
//
// The total is the wall time per command of that loop (median of 5 runs). The parts come
// from a CPU profile of the same loop (node:inspector, 100 µs sampling), each function's
// self time put in one bucket by its file and name, so the parts add up to the total.
import { once } from "node:events";
import { Session } from "node:inspector/promises";
import { fork } from "node:child_process";
import net from "node:net";
import { register } from "tsx/esm/api";

register(); // examples/ is TypeScript
const { RetopyServer } = await import("../dist/src/index.js");
const { default: app } = await import("../examples/kv.ts");

const BATCH = 16;
const ROUNDS = 20_000; // reads per run: 320,000 commands

const server = new RetopyServer(app, { logger: false });
const { port } = await server.listen({ port: 0, host: "127.0.0.1" });

// The client lives in a child process, so its reads are not in this process's time: it
// sends one RESP PING (the connection then speaks RESP2), drains every reply and counts the
// bytes, which it reports when asked.
const CLIENT = `
  const net = require("node:net");
  let received = 0;
  const c = net.connect(${port}, "127.0.0.1", () => c.write("*1\\r\\n$4\\r\\nPING\\r\\n"));
  c.on("data", (chunk) => { received += chunk.length; });
  process.on("message", () => { process.send(received); c.destroy(); process.disconnect(); });
`;
const child = fork("-e", [CLIENT], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
child.on("error", () => {});
const [connection] = await waitFor(() => [...server.connections.values()]);
await waitFor(() => connection.protocol === "resp2" || null);
// The server's socket for that client: its "data" event is where a read enters retopy.
const socket = await waitFor(() => serverSocket());
function serverSocket() {
  for (const handle of process._getActiveHandles()) if (handle instanceof net.Socket && handle.remotePort === connection.remotePort) return handle;
  return null;
}

async function waitFor(get) {
  for (let i = 0; i < 500; i++) {
    const value = get();
    if (value && (!Array.isArray(value) || value.length > 0)) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("the bench's client did not connect");
}

/** One read's worth of RESP requests, as redis-benchmark -P 16 sends them. */
function read(words) {
  const one = `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("")}`;
  return Buffer.from(one.repeat(BATCH));
}
const reads = { SET: read(["SET", "key:__rand_int__", "xxx"]), GET: read(["GET", "key:__rand_int__"]) };

/** Runs `n` reads of `bytes` through the server's socket as if each had just arrived. */
async function run(bytes, n) {
  for (let i = 0; i < n; i++) {
    socket.emit("data", bytes);
    // Let the event loop turn now and then, as between a live socket's reads.
    if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
  }
}

const BUCKETS = [
  ["write to the socket (Node streams and the syscall)", (f, u) => u.startsWith("node:") && /stream|net|writable|buffer/.test(u) || /^write(Utf8|Latin1|Buffer)String$|^writev$/.test(f)],
  ["decoding the read (src/protocol/request-decoder)", (f, u) => u.includes("request-decoder") || f === "latin1Slice" || f === "isAscii"],
  ["handler actor send (XState)", (f, u) => u.includes("xstate") || u.includes("handler-actor")],
  ["the command itself (examples/kv.ts)", (f, u) => u.includes("examples/") && !/^_?KeyValue$/.test(f)],
  ["handler instance (CommandHandler and subclass)", (f, u) => (u.includes("/handler.") && f === "CommandHandler") || /^_?KeyValue$/.test(f)],
  ["argument binding (command-spec, getArgument)", (f, u) => u.includes("command-spec") || /getArgument|getBuffer/.test(f)],
  ["lifecycle (command-lifecycle)", (f, u) => u.includes("command-lifecycle")],
  ["reply encoding (resp-reply, reply-output, reply)", (f, u) => /resp-reply|reply-output|\/reply\./.test(u)],
  ["stats (stats.js)", (f, u) => u.includes("/stats.")],
  ["runner and connection glue", (f, u) => /command-runner|connection\.|socket-output|output-backlog/.test(u)],
  ["garbage collector", (f) => f === "(garbage collector)"],
];

function bucketsOf(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    const { functionName: f, url: u } = node.callFrame;
    if (f === "(idle)" || f === "(program)" || f === "(root)") continue;
    const bucket = BUCKETS.find(([, test]) => test(f, u))?.[0] ?? (process.env.COSTS_OTHER === "1" ? `other: ${f} ${u}` : "other (Node events, timers, microtasks)");
    self.set(bucket, (self.get(bucket) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return self;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 100 });

const lines = ["| part | GET ns/cmd | SET ns/cmd |", "|---|--:|--:|"];
const table = new Map();
const totals = {};
for (const name of ["SET", "GET"]) { // SET first, so every GET finds its key
  await run(reads[name], ROUNDS / 4); // warm up
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    await run(reads[name], ROUNDS);
    runs.push(Number(process.hrtime.bigint() - t0) / (ROUNDS * BATCH));
  }
  totals[name] = median(runs);
  await session.post("Profiler.start");
  await run(reads[name], ROUNDS);
  const { profile } = await session.post("Profiler.stop");
  const self = bucketsOf(profile);
  const sum = [...self.values()].reduce((a, b) => a + b, 0);
  for (const [bucket, t] of self) {
    const row = table.get(bucket) ?? {};
    row[name] = (totals[name] * t) / sum;
    table.set(bucket, row);
  }
}
const rows = [...table].sort((a, b) => (b[1].GET ?? 0) - (a[1].GET ?? 0));
for (const [bucket, row] of rows) lines.push(`| ${bucket} | ${(row.GET ?? 0).toFixed(0)} | ${(row.SET ?? 0).toFixed(0)} |`);
lines.push(`| **total** (wall time per command, median of 5 runs) | **${totals.GET.toFixed(0)}** | **${totals.SET.toFixed(0)}** |`);
console.log(lines.join("\n"));
const received = await new Promise((resolve) => {
  child.once("message", resolve);
  child.send("count");
});
// Every command replied: SET +OK (5 bytes), GET $3 xxx (9 bytes, SET ran first), in every run and warm-up.
const expected = (5 + 9) * BATCH * (ROUNDS / 4 + 6 * ROUNDS) + "+PONG\r\n".length;
if (received !== expected) throw new Error(`the client received ${received} bytes of replies, not ${expected}`);
await server.close();
