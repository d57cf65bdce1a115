// Pub/sub through each transport (`node bench/pubsub-transports.mjs`, after `npm run build`):
// messages per second from one pipelining publisher to one subscriber, and the latency a
// transport adds (publish sent → push received, p50/p99 over sequential publishes), for
//
//   in-process: one `retopy serve` process, publisher and subscriber on it;
//   cluster:    test/fixtures/pubsub-cluster.ts (2 node:cluster workers, the relay), the
//               subscriber on worker 1 and the publisher on worker 2 (needs tsx);
//   redis:      two `retopy serve --pubsub redis://...` processes on one redis-server, the
//               subscriber on one and the publisher on the other.
//
// The clients are retopy's own, in this process. BENCH_QUICK=1 runs small counts (a check
// that it works); the numbers worth keeping come from a quiet machine with the defaults.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { RetopyClient } from "../dist/src/client/index.js";

const quick = process.env.BENCH_QUICK === "1";
const MESSAGES = quick ? 2_000 : 100_000;
const BATCH = 500;
const LATENCY_SAMPLES = quick ? 200 : 5_000;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const children = [];

function start(command, args) {
  const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return child;
}

/** Resolves with the first stdout line for which `pick` returns a value. */
function readLine(child, pick) {
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop();
      for (const line of lines) {
        let value;
        try {
          value = pick(JSON.parse(line));
        } catch {
          continue;
        }
        if (value !== undefined) return resolve(value);
      }
    });
    child.once("exit", (code) => reject(new Error(`exited (${code}) before it was ready`)));
  });
}

const listeningPort = (child) => readLine(child, (line) => (line.msg === "listening" ? line.port : undefined));

async function freePort() {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address();
  probe.close();
  return port;
}

async function serve(extra = []) {
  return listeningPort(start(process.execPath, ["dist/src/cli.js", "serve", "examples/chat.ts", "--port", "0", "--log-format", "json", "--log-level", "info", ...extra]));
}

async function waitForRedis(port) {
  for (let i = 0; i < 200; i++) {
    try {
      const client = await RetopyClient.connect({ port, protocol: "resp2" });
      await client.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error("redis-server did not start");
}

/** The publisher's and the subscriber's ports for each transport. */
const deployments = {
  "in-process": async () => {
    const port = await serve();
    return { sub: { port }, pub: { port } };
  },
  cluster: async () => {
    const port = await readLine(start(process.execPath, ["--import", "tsx", "test/fixtures/pubsub-cluster.ts"]), (line) => line.port);
    return { sub: { port, worker: 1 }, pub: { port, worker: 2 } };
  },
  redis: async () => {
    const redisPort = await freePort();
    start("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
    await waitForRedis(redisPort);
    const url = `redis://127.0.0.1:${redisPort}`;
    const [a, b] = await Promise.all([serve(["--pubsub", url]), serve(["--pubsub", url])]);
    return { sub: { port: a }, pub: { port: b } };
  },
};

/** A client on `port`, on cluster worker `worker` if given (connections are handed round robin). */
async function connect({ port, worker }) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const client = await RetopyClient.connect({ port, protocol: "resp3" });
    if (worker === undefined || (await client.call("whoami")) === worker) return client;
    await client.close();
  }
  throw new Error(`no connection on worker ${worker}`);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(name) {
  const where = await deployments[name]();
  const sub = await connect(where.sub);
  const pub = await connect(where.pub);
  await sub.call("SUBSCRIBE", "bench");
  let received = 0;
  let onMessage = () => {};
  sub.on("push", (values) => {
    if (values[0] === "message") {
      received++;
      onMessage(values[2]);
    }
  });

  // Throughput: pipelined batches, until the subscriber has every message.
  const all = new Promise((resolve) => (onMessage = () => received === MESSAGES && resolve()));
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < MESSAGES; sent += BATCH) {
    const pipeline = pub.pipeline();
    for (let i = 0; i < BATCH; i++) pipeline.call("PUBLISH", "bench", "m");
    await pipeline.exec();
  }
  await all;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  // Latency: one publish at a time, publish sent → push received.
  const samples = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const arrived = new Promise((resolve) => (onMessage = resolve));
    const sentAt = process.hrtime.bigint();
    await pub.call("PUBLISH", "bench", "t");
    await arrived;
    samples.push(Number(process.hrtime.bigint() - sentAt) / 1e3);
  }
  samples.sort((a, b) => a - b);
  await sub.close();
  await pub.close();
  return { name, perSecond: Math.round(MESSAGES / seconds), p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

try {
  const rows = [];
  for (const name of process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(deployments)) {
    rows.push(await measure(name));
    for (const child of children.splice(0)) child.kill("SIGTERM");
  }
  console.log(`| transport | messages/s (${MESSAGES} pipelined) | publish → push p50 (µs) | p99 (µs) |`);
  console.log("|---|---:|---:|---:|");
  for (const row of rows) console.log(`| ${row.name} | ${row.perSecond} | ${row.p50.toFixed(0)} | ${row.p99.toFixed(0)} |`);
} finally {
  for (const child of children) child.kill("SIGTERM");
}
