/**
 * `retopy serve --workers 2` as real child processes (node:cluster primary and workers) on
 * 127.0.0.1, talked to over TCP by raw RESP sockets, ioredis and redis-cli-like clients:
 * whole-server stats, ids unique across workers, per-worker maxConnections and state, and
 * the lifecycle (SIGTERM drain, crash replacement, crash loop, orphan-free, SIGHUP reload).
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import { CliProcess, type LogLine, ROOT } from "./cli-process.js";
import { TextClient } from "./support.js";
import { selfSignedCertificate } from "./tls-support.js";
import { resp, sleep } from "./wire.js";

const APP = "test/fixtures/cluster-app.ts";
const children: CliProcess[] = [];
const sockets: TextClient[] = [];
after(() => {
  for (const client of sockets) client.close();
  for (const child of children) child.kill();
});

function serve(args: readonly string[] = [], env: Record<string, string> = {}): CliProcess {
  const child = new CliProcess(["serve", args[0]?.endsWith(".ts") ? args[0] : APP, "--port", "0", "--log-format", "json", ...(args[0]?.endsWith(".ts") ? args.slice(1) : args)], { env });
  children.push(child);
  return child;
}

/** The port, once the primary says every worker listens. */
async function clusterPort(child: CliProcess): Promise<number> {
  const line = await child.waitForLog("workers listening", 30_000);
  assert.equal(typeof line.port, "number", JSON.stringify(line));
  return line.port as number;
}

async function open(port: number): Promise<TextClient> {
  const client = await TextClient.connect(port);
  sockets.push(client);
  return client;
}

/** One RESP command on a raw socket; its first reply line. */
async function call(client: TextClient, ...args: string[]): Promise<string> {
  client.write(resp(...args));
  return client.readLine(10_000);
}

function logs(child: CliProcess, msg: string): LogLine[] {
  return child.logs.filter((line) => line.msg === msg);
}

/** ioredis's flat [key, value, ...] array of a RESP2 map, as a Map. */
function pairs(reply: unknown): Map<string, string> {
  const flat = reply as (string | number)[];
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), String(flat[i + 1]));
  return map;
}

/** `stats` on a raw RESP2 socket: its array of bulk strings and integers, as a Map. */
async function statsOf(client: TextClient): Promise<Map<string, string>> {
  const header = await call(client, "stats");
  assert.match(header, /^\*\d+$/);
  const items: string[] = [];
  for (let i = 0; i < Number(header.slice(1)); i++) {
    const line = await client.readLine(10_000);
    items.push(line.startsWith("$") ? await client.readLine(10_000) : line.slice(1));
  }
  return pairs(items);
}

function row(text: string): Record<string, string> {
  return Object.fromEntries(text.split(",").map((field) => field.split("=") as [string, string]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("serve --workers: the whole server from any connection", () => {
  test("stats and INFO sum every worker and list one row each; module state is per worker", async (t) => {
    // RETOPY_WORKERS stands for --workers.
    const child = serve([], { RETOPY_WORKERS: "2" });
    t.after(() => child.kill());
    const port = await clusterPort(child);
    const a = await open(port);
    const b = await open(port);
    const pidA = await call(a, "whoami");
    const pidB = await call(b, "whoami");
    // Round-robin deals consecutive connections to different workers.
    assert.notEqual(pidA, pidB);
    // The counter example's Map is per worker: each worker starts its own count.
    assert.equal(await call(a, "incr", "k"), ":1");
    assert.equal(await call(a, "incr", "k"), ":2");
    assert.equal(await call(b, "incr", "k"), ":1");

    const redis = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null });
    t.after(() => redis.disconnect());
    await redis.connect();
    const stats = pairs(await redis.call("stats"));
    assert.equal(stats.get("workers"), "2");
    // whoami and incr ran 5 times over both workers; the stats call itself counts once it replied.
    assert.equal(stats.get("incr"), "3");
    assert.equal(stats.get("whoami"), "2");
    assert.ok(Number(stats.get("commands_total")) >= 5, String(stats.get("commands_total")));
    assert.equal(stats.get("connections_current"), "3");
    const rows = [...stats].filter(([key]) => /^worker\d+$/.test(key)).map(([, value]) => row(value));
    assert.equal(rows.length, 2);
    assert.deepEqual(rows.map((r) => `:${r.pid}`).sort(), [pidA, pidB].sort());
    for (const r of rows) {
      assert.equal(r.state, "listening");
      assert.equal(r.stale, "0");
    }
    assert.equal(rows.reduce((sum, r) => sum + Number(r.connections_current), 0), 3);

    const info = await redis.info();
    assert.match(info, /# Workers\r\nworkers:2\r\nworker_id:\d+\r\n/);
    assert.equal((info.match(/^worker\d+:id=\d+,pid=\d+,state=listening,/gm) ?? []).length, 2);
    assert.match(info, /connected_clients:3\r\n/);
    const commandstats = await redis.info("commandstats");
    assert.match(commandstats, /cmdstat_incr:calls=3,/);
    assert.match(commandstats, /cmdstat_whoami:calls=2,/);
    // CONFIG RESETSTAT reaches every worker.
    assert.equal(await redis.call("config", "resetstat"), "OK");
    await sleep(200);
    assert.doesNotMatch(await redis.info("commandstats"), /cmdstat_incr/);
  });

  test("CLIENT ID is unique over many connections on both workers and across a replacement", async (t) => {
    const child = serve(["--workers", "2"]);
    t.after(() => child.kill());
    const port = await clusterPort(child);
    const ids = new Set<string>();
    const pids = new Set<string>();
    const round = async (count: number) => {
      for (let i = 0; i < count; i += 50) {
        const batch = await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => open(port)));
        for (const client of batch) {
          const id = await call(client, "CLIENT", "ID");
          assert.match(id, /^:\d+$/);
          assert.ok(!ids.has(id), `duplicate ${id}`);
          ids.add(id);
          pids.add(await call(client, "whoami"));
          client.close();
        }
      }
    };
    // More than a block of 256 per worker: both ask for further blocks on the way.
    await round(700);
    assert.equal(pids.size, 2);
    const crasher = await open(port);
    crasher.write(resp("crash"));
    await child.waitFor(() => logs(child, "worker listening").length >= 3 || undefined, "a replacement worker", 20_000);
    await round(300);
    assert.equal(ids.size, 1000);
    assert.equal(pids.size, 3);
  });

  test("maxConnections is per worker: 2 workers × 2 are served, the next client is refused as Redis does", async (t) => {
    const child = serve(["--workers", "2"], { CLUSTER_APP_MAX: "2" });
    t.after(() => child.kill());
    const port = await clusterPort(child);
    const served: TextClient[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await open(port);
      assert.equal(await call(client, "ping"), "+PONG");
      served.push(client);
    }
    const fifth = await open(port);
    assert.equal(await fifth.readLine(5000), "-ERR max number of clients reached");
    await fifth.closed();
    const pids = new Set(await Promise.all(served.map((client) => call(client, "whoami"))));
    assert.equal(pids.size, 2);
  });

  test("a worker too busy to answer shows its last-known row marked stale; stats does not wait for it", async (t) => {
    const child = serve(["--workers", "2"]);
    t.after(() => child.kill());
    const port = await clusterPort(child);
    const busy = await open(port);
    const asking = await open(port);
    const busyPid = await call(busy, "whoami");
    assert.notEqual(await call(asking, "whoami"), busyPid);
    assert.equal(await call(busy, "incr", "x"), ":1");
    // Both rows known first (a collection over both workers), then one worker's event loop
    // held for 4 s, while the primary waits 500 ms for a report.
    assert.equal((await statsOf(asking)).get("workers"), "2");
    busy.write(resp("spin", "4000"));
    await sleep(100);
    const stats = await statsOf(asking);
    // Answered while the busy worker still spins: its own reply has not come yet.
    assert.deepEqual(busy.pending, []);
    const rows = [...stats].filter(([key]) => /^worker\d+$/.test(key)).map(([, value]) => row(value));
    const stale = rows.find((r) => `:${r.pid}` === busyPid);
    const fresh = rows.find((r) => `:${r.pid}` !== busyPid);
    assert.equal(stale?.stale, "1");
    assert.equal(stale?.state, "listening");
    // Its last-known figures still count in the totals.
    assert.ok(Number(stale?.commands_total) >= 2);
    assert.equal(fresh?.stale, "0");
    assert.equal(await busy.readLine(10_000), "+OK");
  });

  test("pipelined stats by the thousand are all answered, by one collection at a time", async (t) => {
    const child = serve(["--workers", "2"]);
    t.after(() => child.kill());
    const port = await clusterPort(child);
    const redis = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null });
    t.after(() => redis.disconnect());
    await redis.connect();
    const pipeline = redis.pipeline();
    for (let i = 0; i < 2000; i++) pipeline.call("stats");
    const results = (await pipeline.exec()) ?? [];
    assert.equal(results.length, 2000);
    assert.deepEqual(results.filter(([error]) => error !== null), []);
    assert.equal(await redis.call("ping"), "PONG");
  });

  test("--tls-cert with --workers: every worker serves TLS on the shared port", async (t) => {
    const { certPath, keyPath, cert } = selfSignedCertificate();
    const child = serve(["--workers", "2", "--tls-cert", certPath, "--tls-key", keyPath]);
    t.after(() => child.kill());
    const port = await clusterPort(child);
    const pids = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const redis = new Redis({ port, host: "127.0.0.1", tls: { ca: cert, servername: "localhost" }, lazyConnect: true, retryStrategy: () => null });
      t.after(() => redis.disconnect());
      await redis.connect();
      pids.add(String(await redis.call("whoami")));
    }
    assert.equal(pids.size, 2);
  });

  test("--schedule none serves through both workers too", async (t) => {
    const child = serve(["--workers", "2", "--schedule", "none"]);
    t.after(() => child.kill());
    const port = await clusterPort(child);
    assert.equal((await child.waitForLog("workers listening")).schedule, "none");
    const client = await open(port);
    assert.equal(await call(client, "ping"), "+PONG");
    const stats = await call(client, "stats");
    assert.match(stats, /^\*|^%/);
  });
});

describe("serve --workers: lifecycle", () => {
  test("SIGTERM drains every worker: pipelined commands in flight all get their replies, exit 0", async (t) => {
    const child = serve(["--workers", "2"]);
    t.after(() => child.kill());
    const port = await clusterPort(child);
    const clients = [await open(port), await open(port)];
    assert.notEqual(await call(clients[0]!, "whoami"), await call(clients[1]!, "whoami"));
    clients.forEach((client, c) => client.write(Buffer.concat(Array.from({ length: 4 }, (_, i) => resp("sleep", "150", `c${c}n${i}`)))));
    await child.waitForStderr("started c0n0");
    await child.waitForStderr("started c1n0");
    child.child.kill("SIGTERM");
    for (const [c, client] of clients.entries()) {
      const replies = await client.readLines(8, 10_000);
      assert.deepEqual(
        replies,
        Array.from({ length: 4 }, (_, i) => [`$${`slept c${c}n${i}`.length}`, `slept c${c}n${i}`]).flat(),
      );
    }
    assert.deepEqual(await child.exit(15_000), { code: 0, signal: null });
    assert.equal(logs(child, "worker exited").length, 2);
  });

  test("SIGTERM with a command outlasting --shutdown-timeout: that worker drops it and the primary exits 1", async (t) => {
    const child = serve(["--workers", "2", "--shutdown-timeout", "200"]);
    t.after(() => child.kill());
    const port = await clusterPort(child);
    const client = await open(port);
    client.write(resp("sleep", "5000", "late"));
    await child.waitForStderr("started late");
    child.child.kill("SIGTERM");
    assert.deepEqual(await child.exit(15_000), { code: 1, signal: null });
    assert.ok(child.logs.some((line) => line.msg === "worker exited" && line.code === 1));
  });

  test("SIGTERM while the workers still load: each drains once it listens, exit 0 (not killed at the timeout)", async (t) => {
    // A lost drain would leave the workers to the kill after 30 s + 2 s, and exit 1.
    const child = serve(["test/fixtures/cluster-slow-start.ts", "--workers", "2", "--shutdown-timeout", "30000"], { CLUSTER_START_DELAY_MS: "1500" });
    t.after(() => child.kill());
    await child.waitFor(() => logs(child, "worker forked").length === 2 || undefined, "two forks", 10_000);
    child.child.kill("SIGTERM");
    assert.deepEqual(await child.exit(25_000), { code: 0, signal: null });
    assert.equal(logs(child, "worker exited").length, 2);
    assert.equal(logs(child, "worker listening").length, 2);
  });

  test("a worker that never listens is killed after --worker-start-timeout; at start, that stops the primary with exit 1", async (t) => {
    const child = serve(["test/fixtures/cluster-slow-start.ts", "--workers", "2", "--worker-start-timeout", "1500"], { CLUSTER_START_DELAY_MS: "never" });
    t.after(() => child.kill());
    assert.deepEqual(await child.exit(25_000), { code: 1, signal: null });
    assert.ok(logs(child, "worker did not listen in time; killing it").length >= 1, child.stdout);
    assert.ok(child.logs.some((line) => line.level === 60 && /exited \(signal SIGKILL\) before it ever listened/.test(String(line.msg))), child.stdout);
  });

  test("a SIGKILLed primary leaves no worker behind", async (t) => {
    const child = serve(["--workers", "2"]);
    t.after(() => child.kill());
    await clusterPort(child);
    const pids = logs(child, "worker forked").map((line) => line.workerPid as number);
    assert.equal(pids.length, 2);
    assert.ok(pids.every(alive));
    child.child.kill("SIGKILL");
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await sleep(50);
    assert.deepEqual(pids.filter(alive), []);
  });

  test("a worker that exits or throws is logged and replaced; the others keep serving", async (t) => {
    const child = serve(["--workers", "2"]);
    t.after(() => child.kill());
    const port = await clusterPort(child);
    const a = await open(port);
    const b = await open(port);
    const pidA = Number((await call(a, "whoami")).slice(1));
    a.write(resp("crash"));
    const crashed = await child.waitFor(() => logs(child, "worker crashed; replacing it after a backoff")[0], "the crash log", 10_000);
    assert.equal(crashed.workerPid, pidA);
    assert.equal(crashed.code, 3);
    assert.equal(typeof crashed.worker, "number");
    assert.equal(crashed.backoffMs, 100);
    // The other worker never stopped.
    assert.equal(await call(b, "ping"), "+PONG");
    await child.waitFor(() => logs(child, "worker listening").length >= 3 || undefined, "the replacement", 20_000);
    // An uncaught exception: the worker drains and exits 1, and is replaced after a longer backoff.
    assert.equal(await call(b, "boom"), "+OK");
    const second = await child.waitFor(() => logs(child, "worker crashed; replacing it after a backoff")[1], "the second crash", 10_000);
    assert.equal(second.code, 1);
    assert.equal(second.backoffMs, 200);
    await child.waitFor(() => logs(child, "worker listening").length >= 4 || undefined, "the second replacement", 20_000);
    const c = await open(port);
    const stats = await call(c, "stats");
    assert.ok(stats.length > 0);
    assert.ok(child.running);
  });

  test("a crash loop stops the primary with exit 1 and a clear line instead of forking forever", async (t) => {
    const child = serve(["--workers", "2"]);
    t.after(() => child.kill());
    const port = await clusterPort(child);
    // Limit 5 crashes a minute: the sixth is a loop. Bounded: at most 6 crashes, 60 s.
    for (let crashes = 0; crashes < 6 && child.running; crashes++) {
      const client = await open(port);
      client.write(resp("crash"));
      await child.waitFor(
        () => logs(child, "worker crashed; replacing it after a backoff").length > crashes || !child.running || undefined,
        `crash ${crashes + 1}`,
        10_000,
      ).catch(() => undefined);
      if (crashes < 5) await child.waitFor(() => logs(child, "worker listening").length >= 3 + crashes || undefined, "a replacement", 20_000);
    }
    assert.deepEqual(await child.exit(20_000), { code: 1, signal: null });
    const fatal = child.logs.find((line) => line.level === 60);
    assert.match(String(fatal?.msg), /^crash loop: 6 worker crashes within 60000 ms \(limit 5\); stopping$/);
  });

  test("a module that throws at load: the primary stops with exit 1 instead of forking forever", async (t) => {
    const child = serve(["test/fixtures/throws-on-load.ts", "--workers", "2"]);
    t.after(() => child.kill());
    assert.deepEqual(await child.exit(30_000), { code: 1, signal: null });
    assert.match(child.stderr, /DATABASE_URL is not set/);
    assert.ok(child.logs.some((line) => line.level === 60 && /before it ever listened; not forking it again/.test(String(line.msg))), child.stdout);
    assert.equal(logs(child, "worker forked").length, 2);
  });

  test("usage errors: a bad --workers, --schedule without workers, --metrics with workers", async () => {
    for (const args of [["--workers", "many"], ["--workers", "-1"], ["--schedule", "rr"], ["--worker-start-timeout", "10"], ["--workers", "2", "--worker-start-timeout", "soon"], ["--workers", "2", "--schedule", "fair"], ["--workers", "2", "--metrics"]]) {
      const child = serve(args);
      const exit = await child.exit(20_000);
      assert.equal(exit.code, 2, `${args.join(" ")}: ${child.stderr}`);
    }
  });
});

for (const schedule of ["rr", "none"]) describe(`serve --workers --schedule ${schedule}: SIGHUP reloads the workers one at a time`, () => {
  // A copy of the fixture beside it (so "retopy" resolves), rewritten before the reload.
  const dir = mkdtempSync(join(ROOT, "test", "fixtures", "reload-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const module = join(dir, "app.ts");
  copyFileSync(join(ROOT, APP), module);
  const relative = module.slice(ROOT.length);

  test("no reply lost or errored for a pipelining ioredis client, no connection refused, the new code served", async (t) => {
    const child = serve([relative, "--workers", "2", "--schedule", schedule]);
    t.after(() => child.kill());
    const port = await clusterPort(child);
    const oldPids = logs(child, "worker forked").map((line) => line.workerPid);
    // Default ioredis: reconnects, and resends what a closed connection did not answer.
    const redis = new Redis({ port, host: "127.0.0.1", retryStrategy: () => 20, maxRetriesPerRequest: 50 });
    t.after(() => redis.disconnect());
    redis.on("error", () => undefined);
    assert.equal(await redis.call("version"), "v1");
    writeFileSync(module, readFileSync(module, "utf8").replace('const CLUSTER_APP_VERSION = "v1"', 'const CLUSTER_APP_VERSION = "v2"'));

    let sent = 0;
    let answered = 0;
    const errors: unknown[] = [];
    let refused = 0;
    const failures: string[] = [];
    let accepted = 0;
    let reloaded = false;
    const pipelining = (async () => {
      // Bounded: at most 400 batches or 60 s, and 5 batches after the reload is done.
      const deadline = Date.now() + 60_000;
      let after = 0;
      for (let batch = 0; batch < 400 && Date.now() < deadline && after < 5; batch++) {
        if (reloaded) after++;
        const pipeline = redis.pipeline();
        for (let i = 0; i < 20; i++) pipeline.call("incr", "n");
        sent += 20;
        const results = (await pipeline.exec()) ?? [];
        for (const [error] of results) {
          if (error) errors.push(error);
          else answered++;
        }
      }
    })();
    // A new raw connection every few ms during the reload: each is accepted and answered.
    const connecting = (async () => {
      for (let i = 0; i < 400 && !reloaded; i++) {
        try {
          const client = await TextClient.connect(port);
          assert.equal(await call(client, "ping"), "+PONG");
          client.close();
          accepted++;
        } catch (error) {
          refused++;
          failures.push(String(error));
        }
        await sleep(10);
      }
    })();
    await sleep(100);
    child.child.kill("SIGHUP");
    await child.waitForLog("reload done", 60_000);
    reloaded = true;
    await Promise.all([pipelining, connecting]);
    assert.deepEqual(errors, []);
    assert.equal(answered, sent);
    assert.ok(sent >= 100, `only ${sent} sent`);
    assert.deepEqual(failures, []);
    assert.equal(refused, 0);
    assert.ok(accepted > 0);
    // Both workers were replaced, by ones that loaded the module afresh.
    const listening = logs(child, "worker listening");
    assert.equal(listening.length, 4);
    assert.equal(logs(child, "worker exited").length, 2);
    for (let i = 0; i < 2; i++) {
      const client = await open(port);
      assert.equal(await call(client, "version"), "$2");
      assert.equal(await client.readLine(), "v2");
      assert.ok(!oldPids.includes(Number((await call(client, "whoami")).slice(1))));
    }

    // A replacement that cannot start: the reload is abandoned and the workers in place stay.
    writeFileSync(module, `throw new Error("broken on purpose");\n${readFileSync(module, "utf8")}`);
    child.child.kill("SIGHUP");
    await child.waitForLog("replacement worker exited before it listened; reload abandoned, keeping the old worker", 30_000);
    const client = await open(port);
    assert.equal(await call(client, "version"), "$2");
    assert.equal(await client.readLine(), "v2");
    const stats = await call(client, "stats");
    assert.ok(stats.length > 0);
    child.child.kill("SIGTERM");
    assert.deepEqual(await child.exit(15_000), { code: 0, signal: null });
  });
});
