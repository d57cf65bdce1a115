/**
 * Issue 14's "done means", end to end with real processes on 127.0.0.1: a redis-server,
 * `retopy serve --workers 2` and a second `retopy serve`, both `--proxy-protocol` behind a real
 * HAProxy run with deploy/haproxy.cfg (send-proxy-v2). The chat example chats across workers
 * and processes (Redis pub/sub transport), `stats` sums the workers, every connection sees its
 * client's own address, a SIGHUP reload loses no reply; examples/counter-redis.ts answers the
 * seed session the same whichever worker or process each connection lands on.
 * Needs `npm run build` (the CLI runs from dist; `npm test` builds first).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliProcess, ROOT } from "./cli-process.js";
import { HaproxyProcess } from "./haproxy-support.js";
import { connectRedis, freePort, type RedisServer, startRedisServer } from "./redis-support.js";
import { SEED_SESSION } from "./seed-session.js";
import { TextClient } from "./support.js";
import { skipWithoutTelnet as skip, TelnetProcess } from "./telnet-support.js";

const CONFIG = join(ROOT, "deploy", "haproxy.cfg");
const CHAT = "examples/chat.ts";
const COUNTER = "examples/counter-redis.ts";

/** Everything a suite started, stopped in its `after` even when a test failed. */
function stoppers(): { add(stop: () => void): void } {
  const list: (() => void)[] = [];
  after(() => {
    for (const stop of list.reverse()) stop();
  });
  return { add: (stop) => list.push(stop) };
}

/** The port from the primary's "workers listening" line (every worker listens by then). */
async function clusterPort(child: CliProcess): Promise<number> {
  const line = await child.waitForLog("workers listening", 30_000);
  assert.equal(typeof line.port, "number", JSON.stringify(line));
  return line.port as number;
}

/** HAProxy (deploy/haproxy.cfg, send-proxy-v2) in front of `ports`; resolves once both servers are UP. */
async function haproxyInFront(ports: readonly [number, number], dir: string, name: string): Promise<{ haproxy: HaproxyProcess; frontend: number; stats: string }> {
  const frontend = await freePort();
  const stats = join(dir, `${name}.sock`);
  const haproxy = await HaproxyProcess.start(CONFIG, {
    RETOPY_BIND: `127.0.0.1:${frontend}`,
    RETOPY_SERVER_1: `127.0.0.1:${ports[0]}`,
    RETOPY_SERVER_2: `127.0.0.1:${ports[1]}`,
    RETOPY_PROXY: "send-proxy-v2",
    RETOPY_CHECK_INTER: "200ms",
    HAPROXY_STATS: stats,
  }, frontend);
  const deadline = Date.now() + 15_000;
  let seen: Record<string, string> = {};
  for (;;) {
    seen = await HaproxyProcess.serverStatus(stats);
    if (seen["retopy/retopy1"] === "UP" && seen["retopy/retopy2"] === "UP") return { haproxy, frontend, stats };
    if (Date.now() > deadline) {
      haproxy.stop();
      assert.fail(`HAProxy's servers never both came UP; last seen ${JSON.stringify(seen)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One command on HAProxy's admin socket (its answer, usually empty). */
async function haproxyAdmin(path: string, line: string): Promise<string> {
  const socket = connect(path);
  let text = "";
  socket.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
  socket.write(`${line}\n`);
  await once(socket, "close");
  return text.trim();
}

/** A text-protocol client through `port` from its own loopback address `localAddress`. */
async function openFrom(port: number, localAddress: string): Promise<TextClient> {
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  socket.on("error", () => undefined);
  await once(socket, "connect");
  return TextClient.over(socket);
}

let sentinels = 0;
/** Sends `line`, then `echo <sentinel>`: every line up to the sentinel (a multi-line reply). */
async function linesOf(client: TextClient, line: string): Promise<string[]> {
  const sentinel = `end-of-reply-${++sentinels}`;
  client.send(line);
  client.send(`echo ${sentinel}`);
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) {
    const next = await client.readLine(10_000);
    if (next === sentinel) return lines;
    lines.push(next);
  }
  throw new Error(`no sentinel after 200 lines: ${JSON.stringify(lines)}`);
}

/** `stats` in the text protocol (`key: value` lines), as a Map. */
async function statsOf(client: TextClient): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  for (const line of await linesOf(client, "stats")) {
    const at = line.indexOf(": ");
    assert.ok(at > 0, `a stats line: ${line}`);
    map.set(line.slice(0, at), line.slice(at + 2));
  }
  return map;
}

/** A `k=v,k=v` row of stats (one worker) as an object. */
function row(text: string): Record<string, string> {
  return Object.fromEntries(text.split(",").map((field) => field.split("=") as [string, string]));
}

/**
 * Which process (and worker) a chat connection is on: `A<worker id>` or `B`. Only A runs
 * workers: its stats name the worker that answers (whose row must carry one of `workerPids`,
 * the pids A's primary logged); B's single process has no such key.
 */
async function placeOf(client: TextClient, workerPids: readonly unknown[]): Promise<string> {
  const stats = await statsOf(client);
  if (!stats.has("workers")) return "B";
  const id = stats.get("worker_id");
  const own = row(stats.get(`worker${id}`) ?? "");
  assert.ok(workerPids.includes(Number(own.pid)), `worker ${id}'s pid ${own.pid} is one of A's workers ${workerPids.join(", ")}`);
  return `A${id}`;
}

/** The pids of the workers a `--workers` primary said listen. */
function workerPidsOf(primary: CliProcess): unknown[] {
  return primary.logs.filter((line) => line.msg === "worker listening").map((line) => line.workerPid);
}

describe("the chat example across 2 workers and a second process, behind HAProxy, pub/sub through Redis", () => {
  const stop = stoppers();
  const dir = mkdtempSync(join(tmpdir(), "retopy-scale-out-"));
  stop.add(() => rmSync(dir, { recursive: true, force: true }));
  let redis: RedisServer;
  let a: CliProcess;
  let b: CliProcess;
  let frontend: number;
  let adminSocket: string;

  before(async () => {
    redis = await startRedisServer();
    stop.add(() => redis.stop());
    const pubsub = `redis://127.0.0.1:${redis.port}`;
    a = new CliProcess(["serve", CHAT, "--port", "0", "--workers", "2", "--pubsub", pubsub, "--proxy-protocol", "--log-format", "json"]);
    stop.add(() => a.kill());
    b = new CliProcess(["serve", CHAT, "--port", "0", "--pubsub", pubsub, "--proxy-protocol", "--log-format", "json"]);
    stop.add(() => b.kill());
    const ports: [number, number] = [await clusterPort(a), await b.port()];
    const started = await haproxyInFront(ports, dir, "chat");
    stop.add(() => started.haproxy.stop());
    frontend = started.frontend;
    adminSocket = started.stats;
  });

  const clients: TextClient[] = [];
  after(() => {
    for (const client of clients) client.close();
  });

  /** Members in the lobby, by nickname, with where each landed. */
  const members = new Map<string, { client: TextClient; place: string; address: string }>();
  /** Where every chat client landed, in order (all of them stay connected). */
  const placesSeen: string[] = [];

  it("members on A's two workers and on B chat in one room: every line reaches everyone, in one order; each sees its own address", { timeout: 60_000 }, async () => {
    // Clients from 127.0.0.2, .3, ...: HAProxy connects from 127.0.0.1, so retopy seeing .N is the PROXY header's doing.
    // Until each of A's workers and B has two members (one to leave, one to stay); HAProxy's
    // round robin and A's (disturbed by health checks) decide where each lands.
    const enough = () => ["A1", "A2", "B"].every((place) => placesSeen.filter((p) => p === place).length >= 2);
    for (let i = 0; i < 16 && !enough(); i++) {
      const address = `127.0.0.${i + 2}`;
      const client = await openFrom(frontend, address);
      clients.push(client);
      const nick = `u${i + 2}`;
      assert.equal(await client.command(`nick ${nick}`), "+OK");
      const info = await client.command("client info");
      assert.match(info, new RegExp(`^id=\\d+ addr=${address.replaceAll(".", "\\.")}:${client.socket.localPort} name=${nick} `));
      // Its own row in CLIENT LIST of the process it is on, with the same address.
      const list = await linesOf(client, "client list");
      assert.equal(list.filter((line) => line.includes(` addr=${address}:${client.socket.localPort} name=${nick} `)).length, 1, list.join("\n"));
      const place = await placeOf(client, workerPidsOf(a));
      placesSeen.push(place);
      members.set(nick, { client, place, address });
    }
    assert.ok(enough(), `two members on each of A1, A2 and B: landed on ${placesSeen.join(", ")}`);

    // Joins one after another: each earlier member gets the newcomer's line, the newcomer gets it as its answer.
    const nicks = [...members.keys()];
    for (const [i, nick] of nicks.entries()) {
      assert.equal(await members.get(nick)!.client.command("join lobby"), `message lobby ${nick} joined`);
      for (const earlier of nicks.slice(0, i)) assert.equal(await members.get(earlier)!.client.readLine(10_000), `message lobby ${nick} joined`, `${earlier} sees ${nick} join`);
    }

    // Everyone speaks at once, three times: every member gets all the lines, in one and the same order.
    for (const nick of nicks) for (let n = 1; n <= 3; n++) members.get(nick)!.client.send(`say lobby ${nick} line ${n}`);
    const heard = await Promise.all(nicks.map((nick) => members.get(nick)!.client.readLines(nicks.length * 3, 15_000)));
    const expected = nicks.flatMap((nick) => [1, 2, 3].map((n) => `message lobby ${nick}: ${nick} line ${n}`));
    for (const [i, lines] of heard.entries()) {
      assert.deepEqual([...lines].sort(), [...expected].sort(), `${nicks[i]} heard every line`);
      assert.deepEqual(lines, heard[0], `${nicks[i]} heard them in the same order as ${nicks[0]}`);
      // One publisher's own lines keep their order.
      for (const nick of nicks) {
        const own = lines.filter((line) => line.startsWith(`message lobby ${nick}: `));
        assert.deepEqual(own, [1, 2, 3].map((n) => `message lobby ${nick}: ${nick} line ${n}`));
      }
    }

    // One member of each place leaves; the others see it, the leaver gets its own line and nothing after.
    const leavers = ["A1", "A2", "B"].map((place) => nicks.find((nick) => members.get(nick)!.place === place)!);
    const stayers = nicks.filter((nick) => !leavers.includes(nick));
    for (const leaver of leavers) {
      assert.equal(await members.get(leaver)!.client.command("leave lobby"), `message lobby ${leaver} left`);
      for (const other of nicks.filter((nick) => !leavers.slice(0, leavers.indexOf(leaver) + 1).includes(nick))) {
        assert.equal(await members.get(other)!.client.readLine(10_000), `message lobby ${leaver} left`, `${other} sees ${leaver} leave`);
      }
    }
    const speaker = stayers[0]!;
    assert.equal(await members.get(speaker)!.client.command("say lobby after the leaving"), `message lobby ${speaker}: after the leaving`);
    for (const other of stayers.slice(1)) assert.equal(await members.get(other)!.client.readLine(10_000), `message lobby ${speaker}: after the leaving`);
    for (const leaver of leavers) {
      // Nothing pending for a leaver: the next line it reads is the answer to its own command.
      assert.deepEqual(await linesOf(members.get(leaver)!.client, "ping"), ["+PONG"], `${leaver} heard nothing after leaving`);
      members.delete(leaver);
    }
    // `who` lists the members on the asker's own process (worker) only (as the example says).
    for (const [nick, member] of members) {
      const here = [...members].filter(([, other]) => other.place === member.place).map(([name]) => name);
      assert.deepEqual((await linesOf(member.client, "who lobby")).sort(), here.sort(), `who, asked by ${nick}`);
    }
  });

  it("stats on A is the sum of its two workers, and counts exactly the clients put on A", { timeout: 30_000 }, async () => {
    // Health checks are connections too: stop them, so the only clients are the ones this test knows.
    for (const server of ["retopy1", "retopy2"]) assert.equal(await haproxyAdmin(adminSocket, `disable health retopy/${server}`), "");
    const onA = [...members.values()].filter((m) => m.place.startsWith("A"));
    const asker = onA[0]!.client;
    // Every client ever put on A is still connected (leavers too): count them per worker.
    const perWorker = { A1: 0, A2: 0 };
    for (const place of placesSeen) if (place === "A1" || place === "A2") perWorker[place]++;
    let stats = await statsOf(asker);
    const deadline = Date.now() + 10_000;
    // A health check that was under way when the checks stopped closes soon after: wait for it.
    while (Number(stats.get("connections_current")) !== perWorker.A1 + perWorker.A2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      stats = await statsOf(asker);
    }
    assert.equal(stats.get("workers"), "2");
    const rows = [...stats].filter(([key]) => /^worker\d+$/.test(key)).map(([key, value]): Record<string, string> => ({ key, ...row(value) }));
    assert.equal(rows.length, 2);
    for (const r of rows) assert.equal(r.state, "listening");
    const sum = (field: string) => rows.reduce((total, r) => total + Number(r[field]), 0);
    assert.equal(Number(stats.get("connections_current")), sum("connections_current"));
    assert.equal(Number(stats.get("connections_current")), perWorker.A1 + perWorker.A2, JSON.stringify(Object.fromEntries(stats)));
    assert.equal(Number(rows.find((r) => r.key === "worker1")!.connections_current), perWorker.A1);
    assert.equal(Number(rows.find((r) => r.key === "worker2")!.connections_current), perWorker.A2);
    assert.equal(Number(stats.get("commands_total")), sum("commands_total"));
    // Each client on A ran `nick` once, on whichever worker it landed: the count is over both.
    assert.equal(Number(stats.get("nick")), perWorker.A1 + perWorker.A2);
    // B counts its own clients only, and has no workers.
    const onB = [...members.values()].find((m) => m.place === "B")!.client;
    const statsB = await statsOf(onB);
    assert.equal(statsB.has("workers"), false);
    assert.equal(Number(statsB.get("nick")), placesSeen.filter((place) => place === "B").length);
    for (const server of ["retopy1", "retopy2"]) await haproxyAdmin(adminSocket, `enable health retopy/${server}`);
  });

  it("a SIGHUP reload of A under a pipelining ioredis client through HAProxy: every reply arrives, none errors; A's members reconnect and chat", { timeout: 90_000 }, async () => {
    // An ioredis client (reconnects, resends what was not answered) that landed on A.
    let redisClient: Awaited<ReturnType<typeof connectRedis>> | undefined;
    for (let i = 0; i < 8 && !redisClient; i++) {
      const candidate = await connectRedis(frontend, { retryStrategy: () => 20, maxRetriesPerRequest: 50 });
      const flat = (await candidate.call("stats")) as unknown[];
      if (flat.includes("workers")) redisClient = candidate;
      else candidate.disconnect();
    }
    assert.ok(redisClient, "an ioredis connection landed on A");
    const ioredis = redisClient;
    after(() => ioredis.disconnect());
    let reconnects = 0;
    ioredis.on("reconnecting", () => reconnects++);

    const memberOnA = [...members].find(([, m]) => m.place.startsWith("A"))!;
    const memberOnB = [...members].find(([, m]) => m.place === "B")!;
    const oldWorkers = a.logs.filter((line) => line.msg === "worker forked").map((line) => line.workerPid);

    let sent = 0;
    let answered = 0;
    const wrong: string[] = [];
    const errors: unknown[] = [];
    let reloaded = false;
    const pipelining = (async () => {
      // Bounded: at most 400 batches or 60 s, and 5 batches after the reload is done.
      const deadline = Date.now() + 60_000;
      let afterReload = 0;
      for (let batch = 0; batch < 400 && Date.now() < deadline && afterReload < 5; batch++) {
        if (reloaded) afterReload++;
        const pipeline = ioredis.pipeline();
        for (let i = 0; i < 20; i++) pipeline.echo(`${batch}.${i}`);
        sent += 20;
        const results = (await pipeline.exec()) ?? [];
        for (const [i, [error, value]] of results.entries()) {
          if (error) errors.push(error);
          else if (value !== `${batch}.${i}`) wrong.push(`${batch}.${i} answered ${String(value)}`);
          else answered++;
        }
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    a.child.kill("SIGHUP");
    await a.waitForLog("reload done", 60_000);
    reloaded = true;
    await pipelining;
    assert.deepEqual(errors, []);
    assert.deepEqual(wrong, []);
    assert.equal(answered, sent);
    assert.ok(sent >= 100, `only ${sent} sent`);
    // Its worker was drained under it: the replies came over a new connection, resent by ioredis.
    assert.ok(reconnects >= 1, "ioredis reconnected");
    const newWorkers = a.logs.filter((line) => line.msg === "worker listening").map((line) => line.workerPid).filter((pid) => !oldWorkers.includes(pid));
    assert.equal(newWorkers.length, 2, "both of A's workers were replaced");

    // A drained worker closes its connections: the chat member on A was disconnected, and
    // its rooms went with the connection (no "left" line is published for it); the member on
    // B never noticed.
    const [nickA, { client: oldA, address }] = memberOnA;
    await oldA.closed(10_000);
    const [nickB, { client: onB }] = memberOnB;
    assert.equal(onB.isClosed, false);
    // The member comes back (wherever HAProxy puts it now) and chats with B again.
    // It reconnects until it lands on A again (bounded), so the new workers' own link to Redis is what is tested.
    let back: TextClient | undefined;
    for (let i = 0; i < 6 && !back; i++) {
      const candidate = await openFrom(frontend, address);
      clients.push(candidate);
      if ((await placeOf(candidate, newWorkers)).startsWith("A")) back = candidate;
      else candidate.close();
    }
    assert.ok(back, "a reconnection landed on A's new workers");
    assert.equal(await back.command(`nick ${nickA}`), "+OK");
    assert.match(await back.command("client info"), new RegExp(` addr=${address.replaceAll(".", "\\.")}:${back.socket.localPort} `));
    assert.equal(await back.command("join lobby"), `message lobby ${nickA} joined`);
    assert.equal(await onB.readLine(10_000), `message lobby ${nickA} joined`);
    assert.equal(await onB.command("say lobby welcome back"), `message lobby ${nickB}: welcome back`);
    assert.equal(await back.readLine(10_000), `message lobby ${nickB}: welcome back`);
  });
});

/** Types the seed session's header into each of `sessions`, then each later line into the next session in turn; every reply, in order. */
async function spreadSeedSession(sessions: readonly TelnetProcess[]): Promise<(string | null)[]> {
  const [header, ...commands] = SEED_SESSION;
  for (const session of sessions) await session.type(header![0]);
  const replies: (string | null)[] = [];
  for (const [i, [line]] of commands.entries()) replies.push(await sessions[i % sessions.length]!.type(line, true));
  return replies;
}

/** Logs a telnet session in and reads INFO server's process_id: the pid of the process it is on. */
async function processOf(session: TelnetProcess): Promise<number> {
  assert.equal(await session.type("AUTH myusername mypass", true), "+OK");
  const before = session.replies.length;
  await session.type("INFO server");
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pid = /^process_id:(\d+)$/m.exec(session.replies.slice(before))?.[1];
    if (pid) return Number(pid);
    if (Date.now() > deadline) throw new Error(`no process_id in ${JSON.stringify(session.replies.slice(before))}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("examples/counter-redis.ts: the seed's telnet session, whichever worker or process each connection lands on", () => {
  const stop = stoppers();
  const dir = mkdtempSync(join(tmpdir(), "retopy-scale-out-"));
  stop.add(() => rmSync(dir, { recursive: true, force: true }));
  let redis: RedisServer;
  before(async () => {
    redis = await startRedisServer();
    stop.add(() => redis.stop());
  });

  const telnet = async (port: number): Promise<TelnetProcess> => {
    const session = new TelnetProcess(port);
    stop.add(() => session.kill());
    await session.connected();
    return session;
  };

  /** Clears the session's counters (a first line is a command), on database `db`. */
  const reset = async (port: number): Promise<void> => {
    const client = await TextClient.connect(port);
    assert.equal(await client.command("rem a b"), "+OK");
    client.close();
  };

  const expected = SEED_SESSION.slice(1).map(([, reply]) => reply);

  it("--workers 2 --redis: lines spread over connections on both workers", { skip, timeout: 60_000 }, async () => {
    const url = `redis://127.0.0.1:${redis.port}/1`;
    const server = new CliProcess(["serve", COUNTER, "--port", "0", "--workers", "2", "--redis", url, "--log-format", "json"]);
    stop.add(() => server.kill());
    const port = await clusterPort(server);
    await reset(port);
    const sessions = [await telnet(port), await telnet(port)];
    assert.deepEqual(await spreadSeedSession(sessions), expected);
    const workers = server.logs.filter((line) => line.msg === "worker listening").map((line) => line.workerPid);
    const used = await Promise.all(sessions.map(processOf));
    assert.deepEqual(new Set(used), new Set(workers), `both workers served the session: ${used.join(", ")} of ${workers.join(", ")}`);
    await redis.client.select(1);
    assert.equal(await redis.client.get("counter:b"), "1");
    for (const session of sessions) {
      assert.equal(await session.type("quit", true), "+OK");
      await session.exited();
    }
  });

  it("two retopy serve --redis --proxy-protocol processes behind HAProxy: lines spread over connections on both", { skip, timeout: 60_000 }, async () => {
    const url = `redis://127.0.0.1:${redis.port}/2`;
    const servers = [0, 1].map(() => new CliProcess(["serve", COUNTER, "--port", "0", "--redis", url, "--proxy-protocol", "--log-format", "json"]));
    for (const server of servers) stop.add(() => server.kill());
    const ports: [number, number] = [await servers[0]!.port(), await servers[1]!.port()];
    const { haproxy, frontend } = await haproxyInFront(ports, dir, "counter");
    stop.add(() => haproxy.stop());
    await reset(frontend);
    const sessions = [await telnet(frontend), await telnet(frontend)];
    assert.deepEqual(await spreadSeedSession(sessions), expected);
    const used = await Promise.all(sessions.map(processOf));
    assert.deepEqual(new Set(used), new Set(servers.map((server) => server.child.pid)), `both processes served the session: ${used.join(", ")}`);
    await redis.client.select(2);
    assert.equal(await redis.client.get("counter:b"), "1");
    for (const session of sessions) {
      assert.equal(await session.type("quit", true), "+OK");
      await session.exited();
    }
  });
});

describe("the chat example under --workers 2 with the default transport (the cluster relay)", () => {
  const stop = stoppers();

  it("members on the two workers hear concurrent says in one and the same order", { timeout: 60_000 }, async () => {
    const server = new CliProcess(["serve", CHAT, "--port", "0", "--workers", "2", "--log-format", "json"]);
    stop.add(() => server.kill());
    const port = await clusterPort(server);
    const users: TextClient[] = [];
    stop.add(() => users.forEach((user) => user.close()));
    const places = new Set<string>();
    // Two connections in a row go to different workers (round robin); checked, not assumed.
    for (const nick of ["ada", "bob"]) {
      const user = await TextClient.connect(port);
      users.push(user);
      assert.equal(await user.command(`nick ${nick}`), "+OK");
      places.add(await placeOf(user, workerPidsOf(server)));
    }
    assert.equal(places.size, 2, "one member on each worker");
    const [ada, bob] = users as [TextClient, TextClient];
    assert.equal(await ada.command("join lobby"), "message lobby ada joined");
    assert.equal(await bob.command("join lobby"), "message lobby bob joined");
    assert.equal(await ada.readLine(10_000), "message lobby bob joined");
    // Both speak at once: each worker's own member used to get its own line first.
    for (let n = 0; n < 50; n++) {
      ada.send(`say lobby a${n}`);
      bob.send(`say lobby b${n}`);
    }
    const [heardByAda, heardByBob] = await Promise.all([ada.readLines(100, 20_000), bob.readLines(100, 20_000)]);
    assert.deepEqual(heardByAda, heardByBob);
  });
});
