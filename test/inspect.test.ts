/**
 * Live inspection (`inspect` option, `retopy serve --inspect`): a real viewer (a `ws`
 * WebSocket client, as the inspector page is) on the bridge, real TCP clients on the server,
 * all on 127.0.0.1. What the viewer receives is checked message by message: the statechart
 * walk of a connection, and that no credential or argument byte is ever in it.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import { after, afterEach, describe, test } from "node:test";
import { WebSocket } from "ws";
import {
  Application,
  CommandError,
  CommandHandler,
  parameter,
  passwordAuthenticator,
  RetopyServer,
  type RetopyServerOptions,
  status,
} from "../src/index.js";
import { CliProcess, ROOT } from "./cli-process.js";
import { resp } from "./wire.js";
import { eventually, TextClient } from "./support.js";

const PASSWORD = "PASS-SECRET-97";
const HEADER_SECRET = "HEADER-SECRET-41";
const BINARY_MARKER = "BINARY-MARKER-55";
/** A binary value: the marker between bytes that are not text. */
const BINARY_VALUE = Buffer.concat([Buffer.from([0xff, 0x00, 0xfe]), Buffer.from(BINARY_MARKER), Buffer.from([0x80, 0x01])]);

const stored = new Map<string, unknown>();

class Probe extends CommandHandler {
  @parameter({ name: "key" })
  increment(): number {
    const value = Number(stored.get(this.getArgument("key")) ?? 0) + 1;
    stored.set(this.getArgument("key"), value);
    return value;
  }

  @parameter({ name: "username" })
  @parameter({ name: "password" })
  async authenticate() {
    if (!(await this.attemptLogin(this.getArgument("username"), this.getArgument("password")))) {
      throw new CommandError("Wrong username or password");
    }
    return status("OK");
  }

  @parameter({ name: "key" })
  @parameter({ name: "value", type: "raw" })
  store() {
    stored.set(this.getArgument("key"), this.getArgument("value"));
    return status("OK");
  }
}

const app = new Application([Probe], { authenticate: passwordAuthenticator({ myusername: PASSWORD }), authFailureDelay: 0 });

interface Message {
  type: string;
  sessionId: string;
  name?: string;
  parentId?: string;
  event?: { type: string; [key: string]: unknown };
  snapshot?: { status?: string; value?: unknown; context?: Record<string, unknown> };
}

/** The inspector page's side of the bridge: a WebSocket on `/viewer` keeping every message. */
class Viewer {
  readonly raw: string[] = [];
  private constructor(readonly ws: WebSocket) {
    // Listening from the start: the replay may arrive in the same packet as the handshake's answer.
    ws.on("message", (data) => this.raw.push(data.toString()));
  }

  static async connect(pageUrl: string, headers: Record<string, string> = {}): Promise<Viewer> {
    const viewer = new Viewer(new WebSocket(`${pageUrl.replace(/^http/, "ws")}viewer`, { headers }));
    await Promise.race([once(viewer.ws, "open"), once(viewer.ws, "error").then(([error]) => Promise.reject(error as Error))]);
    return viewer;
  }

  get messages(): Message[] {
    return this.raw.map((text) => JSON.parse(text) as Message);
  }

  close(): void {
    this.ws.terminate();
  }
}

const servers: RetopyServer[] = [];
const viewers: Viewer[] = [];
const clients: TextClient[] = [];

async function startInspected(inspect: RetopyServerOptions["inspect"]): Promise<{ server: RetopyServer; port: number; url: string }> {
  const server = new RetopyServer(app, { logger: false, handshake: "line", inspect });
  servers.push(server);
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  assert.ok(server.inspectorUrl, "inspectorUrl is set once listen() resolves");
  return { server, port, url: server.inspectorUrl };
}

async function viewer(url: string): Promise<Viewer> {
  const v = await Viewer.connect(url);
  viewers.push(v);
  return v;
}

async function client(port: number): Promise<TextClient> {
  const c = await TextClient.connect(port);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const v of viewers.splice(0)) v.close();
  await Promise.all(servers.splice(0).map((s) => s.close({ timeout: 1000 })));
});

/** The state values of one actor's snapshots, in order, consecutive repeats dropped. */
function walk(messages: readonly Message[], sessionId: string): unknown[] {
  const values: unknown[] = [];
  for (const m of messages) {
    if (m.type !== "@xstate.snapshot" || m.sessionId !== sessionId) continue;
    if (JSON.stringify(values.at(-1)) !== JSON.stringify(m.snapshot?.value)) values.push(m.snapshot?.value);
  }
  return values;
}

function sessionWithHeader(messages: readonly Message[], field: string): string | undefined {
  return messages.find((m) => m.type === "@xstate.snapshot" && (m.snapshot?.context?.header as Record<string, string> | null)?.[field] !== undefined)
    ?.sessionId;
}

/** Every way the test's secrets could appear in a message: as text, and the binary value as JSON bytes, base64 or hex. */
function assertNoSecrets(raw: readonly string[]): void {
  const forbidden = [
    PASSWORD,
    HEADER_SECRET,
    BINARY_MARKER,
    BINARY_VALUE.toString("base64"),
    BINARY_VALUE.toString("hex"),
    JSON.stringify([...BINARY_VALUE]).slice(1, -1),
  ];
  for (const text of raw) for (const secret of forbidden) assert.ok(!text.includes(secret), `a message contains '${secret}': ${text.slice(0, 300)}`);
}

describe("inspect: what a viewer sees", () => {
  test("a connection walks header → ready → authenticated → closed; passwords, the header secret and binary values never leave", async () => {
    const { url, server } = await startInspected({ port: 0, commands: true });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const watching = await viewer(url);
    const port = server.address()!.port;

    // Text: a header with credentials (wrong ones: refused, and the connection stays `ready`),
    // a command, a login through this.attemptLogin, then quit.
    const text = await client(port);
    text.send(`probe=text auth=intruder:${HEADER_SECRET}`);
    assert.match(await text.readLine(), /^-WRONGPASS/);
    assert.equal(await text.command("increment a"), "1");
    assert.equal(await text.command(`authenticate myusername ${PASSWORD}`), "+OK");
    assert.equal(await text.command("quit"), "+OK");
    await text.closed();

    // RESP: AUTH with the password, then a binary value.
    const redis = await client(port);
    redis.write(`probe=resp proto=resp2\r\n`);
    redis.write(resp("AUTH", "myusername", PASSWORD));
    assert.equal(await redis.readLine(), "+OK");
    redis.write(resp("store", "blob", BINARY_VALUE));
    assert.equal(await redis.readLine(), "+OK");
    redis.write(resp("quit"));
    assert.equal(await redis.readLine(), "+OK");
    await redis.closed();

    const ended = (probe: string) => () =>
      watching.messages.some(
        (m) => m.type === "@xstate.snapshot" && m.snapshot?.status === "done" && (m.snapshot.context?.header as Record<string, string>)?.probe === probe,
      );
    await eventually(ended("text"), 3000, "the text connection's final snapshot");
    await eventually(ended("resp"), 3000, "the RESP connection's final snapshot");
    const messages = watching.messages;

    for (const type of ["@xstate.actor", "@xstate.snapshot", "@xstate.event"]) {
      assert.ok(messages.some((m) => m.type === type), `no ${type} message`);
    }
    const supervisor = messages.find((m) => m.type === "@xstate.actor" && m.name === "supervisor");
    assert.ok(supervisor, "the supervisor is announced");
    assert.ok(messages.some((m) => m.type === "@xstate.actor" && m.name === "handler" && m.parentId === supervisor.sessionId));

    const textSession = messages.find(
      (m) => m.type === "@xstate.snapshot" && (m.snapshot?.context?.header as Record<string, string> | null)?.probe === "text",
    )!.sessionId;
    assert.ok(
      messages.some((m) => m.type === "@xstate.actor" && m.sessionId === textSession && m.name === "connection" && m.parentId === supervisor.sessionId),
      "the connection is announced as the supervisor's child",
    );
    // The whole life: the quit's reply is written, then the socket lingers until the client closes its side.
    const open = (auth: string, flow: object) => ({ open: { auth, flow } });
    assert.deepEqual(walk(messages, textSession), [
      "header",
      open("ready", { serving: "reading" }),
      open("authenticated", { serving: "reading" }),
      open("authenticated", { closing: "afterReply" }),
      "lingering",
      "closed",
    ]);
    const login = messages.find((m) => m.type === "@xstate.event" && m.sessionId === textSession && m.event?.type === "LOGIN");
    assert.deepEqual(login?.event, { type: "LOGIN", user: "myusername" });
    // The header is shown, its credential is not.
    const header = messages.find((m) => m.type === "@xstate.event" && m.sessionId === textSession && m.event?.type === "HEADER");
    assert.deepEqual(header?.event?.fields, { probe: "text", auth: "[redacted]" });

    // `commands: true`: every read's batch, as names only.
    const batches = messages.filter((m) => m.type === "@xstate.event" && m.event?.type === "COMMANDS").map((m) => m.event!);
    assert.ok(batches.some((b) => JSON.stringify(b.commands) === JSON.stringify(["authenticate"]) && b.count === 1), JSON.stringify(batches));
    assert.ok(batches.some((b) => JSON.stringify(b.commands) === JSON.stringify(["store"])), JSON.stringify(batches));
    assert.ok(batches.some((b) => JSON.stringify(b.commands) === JSON.stringify(["auth"])), JSON.stringify(batches));
    for (const batch of batches) assert.deepEqual(Object.keys(batch).sort(), ["commands", "connectionId", "count", "type"]);

    assertNoSecrets(watching.raw);
  });

  test("by default no per-read COMMANDS traffic is sent, and a late viewer still gets every live actor", async () => {
    const { server, url } = await startInspected({ port: 0, maxDeferredEvents: 5 });
    const port = server.address()!.port;
    const early = await viewer(url);
    const c = await client(port);
    c.send("probe=late");
    for (let i = 1; i <= 20; i++) assert.equal(await c.command("increment late"), String(i));
    await eventually(() => walk(early.messages, sessionWithHeader(early.messages, "probe") ?? "").length >= 2, 3000, "the handshake's snapshot");
    // Stats reach the supervisor every 250 ms: wait for them so the ring has moved on.
    await eventually(() => early.messages.some((m) => m.event?.type === "COMMANDS_COUNTED"), 3000, "the command counts");
    assert.ok(!early.messages.some((m) => m.event?.type === "COMMANDS"), "COMMANDS events were sent by default");
    assert.ok(early.messages.length > 5, `only ${early.messages.length} messages; the replay test needs more than maxDeferredEvents`);

    const late = await viewer(url);
    await eventually(() => late.raw.length >= 5, 3000, "the replay");
    await new Promise((resolve) => setTimeout(resolve, 100)); // the replay is sent at once; let all of it arrive
    const replayed = late.messages;
    // The ring holds the last 5 messages; the announcements are older, and replayed anyway.
    const announced = replayed.filter((m) => m.type === "@xstate.actor").map((m) => m.name);
    assert.deepEqual(announced.slice(0, 3), ["supervisor", "handler", "connection"]);
    const session = sessionWithHeader(early.messages, "probe")!;
    const latest = replayed.filter((m) => m.type === "@xstate.snapshot" && m.sessionId === session).at(-1);
    assert.deepEqual(latest?.snapshot?.value, { open: { auth: "ready", flow: { serving: "reading" } } }, "the connection's current state is replayed");
    assert.ok(replayed.length <= 5 + 2 * 3, `replayed ${replayed.length} messages`);
  });

  test("`commands: N` lets at most N batches a second through, each with its snapshot; `filter` narrows, and one that throws costs nothing else", async () => {
    const sampled = await startInspected({ port: 0, commands: 1 });
    const watching = await viewer(sampled.url);
    const c = await client(sampled.port);
    c.send("probe=sampled");
    const started = Date.now();
    for (let i = 1; i <= 20; i++) assert.equal(await c.command("increment sampled"), String(i));
    const seconds = Math.ceil((Date.now() - started) / 1000);
    await eventually(() => watching.messages.some((m) => m.event?.type === "COMMANDS_COUNTED"), 3000, "the command counts");
    const events = watching.messages.filter((m) => m.type === "@xstate.event" && m.event?.type === "COMMANDS");
    const snapshots = watching.messages.filter((m) => m.type === "@xstate.snapshot" && m.event?.type === "COMMANDS");
    assert.ok(events.length >= 1 && events.length <= seconds + 1, `${events.length} batches in ${seconds} s`);
    assert.equal(snapshots.length, events.length, "each sampled batch comes with its snapshot");

    let calls = 0;
    const narrowed = await startInspected({
      port: 0,
      filter: (event) => {
        if (++calls === 3) throw new Error("a buggy filter");
        return (event.actorRef as { id?: string }).id === "connection";
      },
    });
    const onlyConnections = await viewer(narrowed.url);
    const d = await client(narrowed.port);
    d.send("probe=narrowed");
    assert.equal(await d.command("increment narrowed"), "1");
    assert.equal(await d.command("quit"), "+OK");
    await eventually(() => onlyConnections.messages.some((m) => m.snapshot?.status === "done"), 3000, "the connection's end");
    assert.ok(calls > 3, "the filter kept being called after it threw");
    assert.deepEqual([...new Set(onlyConnections.messages.filter((m) => m.type === "@xstate.actor").map((m) => m.name))], ["connection"]);
    const sessions = new Set(onlyConnections.messages.map((m) => m.sessionId));
    assert.equal(sessions.size, 1, "only the connection's messages");
  });

  test("bad `inspect` options are refused when the server is made", () => {
    for (const inspect of [{ port: -1 }, { port: 70000 }, { host: "" }, { maxDeferredEvents: 0 }, { commands: -1 }, { filter: "x" }, "yes"]) {
      assert.throws(() => new RetopyServer(app, { logger: false, inspect: inspect as RetopyServerOptions["inspect"] }), { code: "RETOPY_INVALID_OPTION" });
    }
  });

  test("GET / serves the page that embeds the Stately inspector; foreign hosts and origins are refused", async () => {
    const { url } = await startInspected(true);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    const html = await page.text();
    assert.match(html, /Stately inspector/);
    assert.match(html, /src="https:\/\/stately\.ai\/inspect"/);
    assert.match(html, /\/viewer/);
    assert.equal((await fetch(new URL("/nope", url))).status, 404);

    // DNS rebinding: a name that is not loopback, resolved to 127.0.0.1 by an attacker's DNS.
    const { port } = new URL(url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/", headers: { host: `evil.example:${port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 403);
    // Another site's page in the same browser may not watch.
    await assert.rejects(Viewer.connect(url, { origin: "http://evil.example" }), /403/);
    const sameOrigin = await Viewer.connect(url, { origin: `http://127.0.0.1:${port}` });
    sameOrigin.close();
  });

  test("the bridge binds 127.0.0.1 only by default, and `host` moves it", async () => {
    const { server, url } = await startInspected({ port: 0 });
    const { port } = new URL(url);
    // Linux routes all of 127/8 to loopback: a socket bound to 0.0.0.0 would answer on 127.0.0.2.
    await assert.rejects(connectTo("127.0.0.2", Number(port)), /ECONNREFUSED/);
    await connectTo("127.0.0.1", Number(port));
    await server.close();
    assert.equal(server.inspectorUrl, null, "no address once closed");
    await assert.rejects(connectTo("127.0.0.1", Number(port)), /ECONNREFUSED/, "close() stops the bridge");

    const moved = await startInspected({ port: 0, host: "127.0.0.2" });
    const movedPort = Number(new URL(moved.url).port);
    assert.match(moved.url, /^http:\/\/127\.0\.0\.2:/);
    await connectTo("127.0.0.2", movedPort);
    await assert.rejects(connectTo("127.0.0.1", movedPort), /ECONNREFUSED/);
  });
});

function connectTo(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}

/** Ports this process listens on: its socket fds matched against /proc/net/tcp's LISTEN rows. */
function listeningPorts(): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // the fd closed while we looked
    }
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const row of readFileSync(table, "utf8").split("\n").slice(1)) {
      const cols = row.trim().split(/\s+/);
      if (cols[3] === "0A" && inodes.has(cols[9]!)) ports.push(parseInt(cols[1]!.split(":")[1]!, 16));
    }
  }
  return ports.sort((a, b) => a - b);
}

describe("inspect: off by default", () => {
  test("without `inspect` nothing else listens and inspectorUrl is null", async () => {
    const before = listeningPorts();
    const plain = new RetopyServer(app, { logger: false });
    servers.push(plain);
    const { port } = await plain.listen({ port: 0, host: "127.0.0.1" });
    assert.equal(plain.inspectorUrl, null);
    assert.deepEqual(
      listeningPorts().filter((p) => !before.includes(p)),
      [port],
    );
    // The control: the same count sees the bridge when inspection is on.
    const inspected = await startInspected(true);
    const bridgePort = Number(new URL(inspected.url).port);
    assert.deepEqual(
      listeningPorts().filter((p) => !before.includes(p)),
      [port, inspected.port, bridgePort].sort((a, b) => a - b),
    );
  });

  test("without `inspect`, @statelyai/inspect and ws are never loaded (module resolutions seen by a loader hook)", async () => {
    const dist = pathToFileURL(join(ROOT, "dist", "src", "index.js")).href;
    const dir = mkdtempSync(join(tmpdir(), "retopy-inspect-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, "hooks.mjs"),
      `let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}
`,
    );
    writeFileSync(
      join(dir, "child.mjs"),
      `import { register } from "node:module";
import { MessageChannel } from "node:worker_threads";
const { port1, port2 } = new MessageChannel();
const seen = [];
port1.on("message", (url) => seen.push(url));
register(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)}, { data: { port: port2 }, transferList: [port2] });
const inspectorModules = () => seen.filter((url) => /node_modules\\/(@statelyai\\/inspect|ws|isomorphic-ws)\\//.test(url));
/** Resolutions arrive from the hooks thread in order: once this one is seen, all before it are. */
async function settled(tag) {
  const url = "data:text/javascript,export default " + JSON.stringify(tag);
  await import(url);
  for (let i = 0; i < 200 && !seen.includes(url); i++) await new Promise((r) => setTimeout(r, 10));
}
const { Application, RetopyServer } = await import(${JSON.stringify(dist)});
const off = new RetopyServer(new Application([]), { logger: false });
await off.listen({ port: 0, host: "127.0.0.1" });
await settled("off");
const whenOff = inspectorModules();
await off.close();
const on = new RetopyServer(new Application([]), { logger: false, inspect: true });
await on.listen({ port: 0, host: "127.0.0.1" });
await settled("on");
const whenOn = inspectorModules();
await on.close();
port1.close();
console.log(JSON.stringify({ whenOff, whenOn }));
`,
    );
    const child = spawn(process.execPath, [join(dir, "child.mjs")], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const [code] = (await once(child, "close")) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 0, stderr);
    const { whenOff, whenOn } = JSON.parse(stdout.trim().split("\n").at(-1)!) as { whenOff: string[]; whenOn: string[] };
    assert.deepEqual(whenOff, []);
    assert.ok(whenOn.some((url) => url.includes("/@statelyai/inspect/")), `the hook saw no @statelyai/inspect: ${JSON.stringify(whenOn)}`);
    assert.ok(whenOn.some((url) => /\/node_modules\/ws\//.test(url)), `the hook saw no ws: ${JSON.stringify(whenOn)}`);
  });
});

describe("inspect: retopy serve --inspect", () => {
  const running: CliProcess[] = [];
  afterEach(() => {
    for (const child of running.splice(0)) child.kill();
  });

  test("--inspect=0 prints the page's address on stderr and serves it; SIGTERM exits 0 and stops the bridge", async () => {
    const cli = new CliProcess(["serve", "examples/counter.ts", "--port", "0", "--inspect=0"]);
    running.push(cli);
    const port = await cli.port();
    await cli.waitForStderr("inspector at ");
    const url = /inspector at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.stderr)?.[1];
    assert.ok(url, cli.stderr);
    const logged = await cli.waitForLog("inspector listening");
    assert.equal(logged.url, url);
    assert.equal(logged.host, "127.0.0.1");
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Stately inspector/);

    // A viewer sees the connection a telnet user opens.
    const watching = await Viewer.connect(url);
    viewers.push(watching);
    const telnet = await client(port);
    telnet.send("header line");
    assert.equal(await telnet.command("increment a"), "1");
    await eventually(() => watching.messages.some((m) => m.type === "@xstate.actor" && m.name === "connection"), 3000, "the connection's announcement");

    cli.child.kill("SIGTERM");
    assert.deepEqual(await cli.exit(), { code: 0, signal: null });
    await assert.rejects(connectTo("127.0.0.1", Number(new URL(url).port)), /ECONNREFUSED/);
  });

  test("--inspect with --workers: one inspector, in the primary, showing the cluster actor and a row per worker", async () => {
    const cli = new CliProcess(["serve", "examples/counter.ts", "--port", "0", "--inspect=0", "--workers", "2"]);
    running.push(cli);
    await cli.waitForLog("workers listening", 30_000);
    await cli.waitForStderr("inspector at ");
    const urls = cli.stderr.match(/inspector at (http:\/\/127\.0\.0\.1:\d+\/)/g) ?? [];
    assert.equal(urls.length, 1, cli.stderr);
    const url = /inspector at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.stderr)![1]!;
    const watching = await Viewer.connect(url);
    viewers.push(watching);
    await eventually(() => watching.messages.some((m) => m.type === "@xstate.actor" && m.name === "cluster"), 5000, "the cluster actor");
    const workersOf = (m: Message) => Object.keys((m.snapshot?.context?.workers ?? {}) as object).length;
    await eventually(() => watching.messages.some((m) => m.snapshot?.value !== undefined && JSON.stringify(m.snapshot.value).includes("running") && workersOf(m) === 2), 5000, "running with two workers");
    cli.child.kill("SIGTERM");
    assert.deepEqual(await cli.exit(15_000), { code: 0, signal: null });
  });

  test("--inspect takes no value as any free port, and refuses a bad one", async () => {
    const cli = new CliProcess(["serve", "examples/counter.ts", "--port", "0", "--inspect"]);
    running.push(cli);
    await cli.waitForStderr("inspector at http://127.0.0.1:");
    const bad = new CliProcess(["serve", "examples/counter.ts", "--inspect=99999"]);
    running.push(bad);
    const exit = await bad.exit();
    assert.equal(exit.code, 2);
    assert.match(bad.stderr, /--inspect must be an integer from 0 to 65535, not '99999'/);
  });
});
