// Small arguments must not keep whole network reads alive (issue 10, item 2).
//
//   npm run bench:pinning            # builds, then runs both cases (about a minute)
//   node bench/pinning.mjs [pairs] [maxOutputBuffer]
//
// kv: redis-server, bench/baseline-server.mjs (a bare node:net server) and examples/kv.ts
//     served by the built CLI each receive PAIRS pipelined `SET key:i <100 B>`, each next to
//     one `SET scratch <60 KB>`. After 12 s idle and a forced GC (MEMORY PURGE for redis):
//     RSS growth of each, retopy's live growth (V8 heap + ArrayBuffers), and the ratio to
//     redis (target < 3×). PINNING_CONTROL=1 sends every small SET to one key: the same
//     traffic with nothing kept, so what the traffic alone costs in RSS.
// pub/sub: a subscriber that never reads, fed `PUBLISH news <100 B>` and
//     `PUBLISH nobody <60 KB>` pairs (16 to a write), against retopy with the given
//     maxOutputBuffer (default 4 MB), after 64 messages of 60 KB have filled the kernel's
//     socket buffers. The server's live memory is sampled (forced GC) every 64 pairs; the
//     target is a cut while its growth is under 2× maxOutputBuffer. The load stops by itself:
//     at the cut, after 5 × PAIRS pairs, or once the server's RSS grew by RSS_CAP.
import { fork, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { fileURLToPath } from "node:url";

const HOST = "127.0.0.1";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PAIRS = Number(process.argv[2] ?? 20_000);
const MAX_OUTPUT = Number(process.argv[3] ?? 4 * 1024 * 1024);
const SMALL = 100;
const LARGE = 60 * 1024;
const RSS_CAP = 1536 * 1024 * 1024;
const MB = 1024 * 1024;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes) => (bytes / MB).toFixed(1);
const children = new Set();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

function rssBytes(pid) {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match[1]) * 1024;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function resp(...args) {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n`, arg, "\r\n");
  return Buffer.from(parts.join(""));
}

/** Sends `request` on a fresh connection and resolves with the first `bytes` of the reply (or what came in `ms`). */
function exchange(port, request, bytes, ms = 2000) {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST, () => socket.write(request));
    let got = "";
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, ms);
    socket.on("data", (chunk) => {
      got += chunk.toString("latin1");
      if (got.length >= bytes) done();
    });
    socket.on("error", done);
  });
}

async function waitForPing(port, child) {
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if ((await exchange(port, resp("PING"), 7, 500)) === "+PONG\r\n") return;
    await sleep(100);
  }
  throw new Error("server did not answer PING within 15 s");
}

async function startRetopy(maxOutput) {
  const port = await freePort();
  const child = fork(
    `${ROOT}dist/src/cli.js`,
    ["serve", "bench/pinning-app.ts", "--port", String(port), "--log-level", "silent", "--handshake", "auto"],
    {
      cwd: ROOT,
      execArgv: ["--expose-gc", "--import", "./bench/gc-probe.mjs"],
      env: { ...process.env, PINNING_MAX_OUTPUT: String(maxOutput) },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    },
  );
  children.add(child);
  await waitForPing(port, child);
  const settle = async () => {
    child.send("memory");
    const [{ usage }] = await once(child, "message");
    return { rss: rssBytes(child.pid), live: usage.heapUsed + usage.arrayBuffers, committed: usage.heapTotal };
  };
  return { name: "retopy", port, child, pid: child.pid, settle };
}

/** bench/baseline-server.mjs: a bare node:net server speaking the same commands, values kept as strings. */
async function startBaseline() {
  const child = fork(`${ROOT}bench/baseline-server.mjs`, [], {
    cwd: ROOT,
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  children.add(child);
  const [{ port }] = await once(child, "message");
  await waitForPing(port, child);
  const settle = async () => {
    child.send("memory");
    const [{ usage }] = await once(child, "message");
    return { rss: rssBytes(child.pid), live: usage.heapUsed + usage.arrayBuffers, committed: usage.heapTotal };
  };
  return { name: "node:net", port, child, pid: child.pid, settle };
}

async function startRedis() {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", os.tmpdir()],
    { stdio: "ignore" },
  );
  children.add(child);
  await waitForPing(port, child);
  const settle = async () => {
    await exchange(port, resp("MEMORY", "PURGE"), 5);
    return { rss: rssBytes(child.pid), live: null };
  };
  return { name: "redis", port, child, pid: child.pid, settle };
}

function stop(server) {
  server.child.kill("SIGKILL");
  children.delete(server.child);
}

/**
 * Writes `count` requests made by `request(i)`, pipelined with the socket's backpressure, and
 * resolves once `count` replies (one CRLF-ended line each) have come back.
 */
function pipeline(port, count, request) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST);
    let replies = 0;
    let sent = 0;
    const write = () => {
      while (sent < count) {
        if (!socket.write(request(sent++))) return void socket.once("drain", write);
      }
    };
    socket.on("connect", write);
    socket.on("data", (chunk) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) replies++;
      if (replies >= count) {
        socket.destroy();
        resolve();
      }
    });
    socket.on("error", reject);
    socket.on("close", () => replies < count && reject(new Error(`closed after ${replies} of ${count} replies`)));
  });
}

async function kvCase(server) {
  const small = "v".repeat(SMALL);
  const scratch = resp("SET", "scratch", "s".repeat(LARGE));
  const before = await server.settle();
  const started = performance.now();
  await pipeline(server.port, PAIRS * 2, (i) => (i % 2 === 0 ? resp("SET", process.env.PINNING_CONTROL ? "key" : `key:${i / 2}`, small) : scratch));
  const seconds = (performance.now() - started) / 1000;
  await sleep(Number(process.env.PINNING_IDLE ?? 12_000));
  const after = await server.settle();
  const live = before.live === null ? null : after.live - before.live;
  const committed = before.committed === undefined ? null : after.committed - before.committed;
  return { before: before.rss, after: after.rss, growth: after.rss - before.rss, live, committed, seconds };
}

/**
 * The never-reading subscriber: subscribes, then stops reading. The publisher sends pairs
 * until PUBLISH news reports no receiver (the subscriber was cut) or a bound is reached.
 */
async function pubsubCase(server) {
  const subscriber = net.connect(server.port, HOST);
  await once(subscriber, "connect");
  subscriber.write(resp("SUBSCRIBE", "news"));
  await once(subscriber, "data");
  subscriber.pause();
  subscriber.on("error", () => {});
  const { rss: rssBefore, live: liveBefore } = await server.settle();
  const news = resp("PUBLISH", "news", "n".repeat(SMALL));
  const nobody = resp("PUBLISH", "nobody", "x".repeat(LARGE));
  // What the server encodes per message: >3 message, $4 news, $100 <payload> (RESP2 arrays).
  const pushBytes = resp("message", "news", "n".repeat(SMALL)).length;
  const publisher = net.connect(server.port, HOST);
  await once(publisher, "connect");
  let delivered = 0;
  let peak = 0;
  let livePeak = 0;
  let cut = false;
  let capped = false;
  let pending = "";
  // First fill the kernel's socket buffers with 60 KB messages (a few MB on loopback), so
  // what follows queues in the server, where the limit applies.
  for (let i = 0; i < 64; i++) publisher.write(resp("PUBLISH", "news", "p".repeat(LARGE)));
  for (let replies = 0; replies < 64; ) {
    const [chunk] = await once(publisher, "data");
    replies += chunk.toString("latin1").split("\r\n").length - 1;
  }
  // Pairs go out 16 to a write, so each 100 B message shares its network read with a 60 KB one.
  const batch = Buffer.concat(Array.from({ length: 16 }, () => [news, nobody]).flat());
  for (let pair = 0; pair < 5 * PAIRS && !cut && !capped; pair += 16) {
    publisher.write(batch);
    // 32 replies: `:1` (or `:0` once the subscriber is gone) for news, `:0` for nobody.
    let lines = [];
    while (lines.length < 33) {
      const [chunk] = await once(publisher, "data");
      pending += chunk.toString("latin1");
      lines = pending.split("\r\n");
    }
    pending = lines.slice(32).join("\r\n");
    for (let i = 0; i < 32; i += 2) {
      if (lines[i] === ":1") delivered++;
      else cut = true;
    }
    const rss = rssBytes(server.pid) - rssBefore;
    peak = Math.max(peak, rss);
    if (pair % 64 === 0 && !cut) livePeak = Math.max(livePeak, (await server.settle()).live - liveBefore);
    if (rss > RSS_CAP) capped = true;
  }
  publisher.destroy();
  subscriber.destroy();
  const prefill = 64 * resp("message", "news", "p".repeat(LARGE)).length;
  return { delivered, owed: prefill + delivered * pushBytes, peak, livePeak, cut, capped };
}

async function main() {
  if (!existsSync(`${ROOT}dist/src/cli.js`)) throw new Error("dist/ is missing: run `npm run build` first");
  const haveRedis = spawnSync("sh", ["-c", "command -v redis-server"]).status === 0;
  console.log(`# pinning: ${PAIRS} pairs, values ${SMALL} B next to ${LARGE / 1024} KB; Node ${process.version}`);

  const results = {};
  for (const start of [...(haveRedis ? [startRedis] : []), startBaseline, () => startRetopy(64 * MB)]) {
    const server = await start();
    try {
      results[server.name] = await kvCase(server);
    } finally {
      stop(server);
    }
    const r = results[server.name];
    const live = r.live === null ? "" : `; live heap + ArrayBuffers grew ${mb(r.live)} MB, V8's committed heap ${mb(r.committed)} MB`;
    console.log(`kv ${server.name}: RSS ${mb(r.before)} -> ${mb(r.after)} MB, grew ${mb(r.growth)} MB${live} (${r.seconds.toFixed(1)} s)`);
  }
  if (results.redis) {
    const ratio = results.retopy.growth / Math.max(results.redis.growth, 1);
    console.log(`kv ratio: retopy grew ${ratio.toFixed(2)}x what redis grew (target < 3x): ${ratio < 3 ? "met" : "NOT met"}`);
  } else console.log("kv ratio: redis-server is not installed; skipped");

  const server = await startRetopy(MAX_OUTPUT);
  try {
    const r = await pubsubCase(server);
    const verdict = r.cut ? "cut" : r.capped ? `NOT cut (stopped at the RSS cap, ${mb(RSS_CAP)} MB)` : `NOT cut after ${5 * PAIRS} pairs`;
    console.log(
      `pub/sub (maxOutputBuffer ${mb(MAX_OUTPUT)} MB): ${verdict}; 64 + ${r.delivered} messages (${mb(r.owed)} MB) owed to the subscriber,` +
        ` server's live memory grew ${mb(r.livePeak)} MB at most before the cut, its RSS ${mb(r.peak)} MB`,
    );
    const held = r.cut && r.livePeak < 2 * MAX_OUTPUT;
    console.log(`pub/sub target (cut, live growth < 2x maxOutputBuffer): ${held ? "met" : "NOT met"}`);
  } finally {
    stop(server);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
