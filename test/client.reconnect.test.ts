/**
 * RetopyClient's opt-in reconnect and its command proxies, against real RetopyServers on
 * 127.0.0.1: the server is closed and a new one started on the same port; the client must come
 * back, redo its login and subscriptions, send what was queued, and fail what was in flight.
 * A child process proves close() during a reconnect leaves no timer behind (the process exits).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { after, describe, it } from "node:test";
import { Application, CommandHandler, parameter, passwordAuthenticator, RetopyServer } from "../src/index.js";
import { OPEN_PUBSUB } from "./support.js";
import { backoffDelay, ClientError, type Reply, reconnectPolicy, RetopyClient, type RetopyClientOptions } from "../src/client/index.js";

const counts = new Map<string, number>();

class Counter extends CommandHandler {
  @parameter({ name: "key" })
  increment() {
    const key = this.getArgument("key");
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return counts.get(key);
  }

  @parameter({ name: "ms", type: "int" })
  async slow() {
    const ms = this.getArgument<number>("ms");
    await sleep(ms);
    return `slept ${ms}`;
  }

  @parameter()
  whoami() {
    return this.connection.user;
  }
}

const app = new Application([Counter], { authenticate: passwordAuthenticator({ alice: "s3cret" }), authFailureDelay: 0, builtinLogin: OPEN_PUBSUB });

const servers = new Set<RetopyServer>();
const clients: RetopyClient[] = [];
after(async () => {
  for (const client of clients) client.destroy();
  await Promise.all([...servers].map((server) => server.close({ timeout: 500 })));
});

async function serve(port = 0): Promise<{ server: RetopyServer; port: number }> {
  const server = new RetopyServer(app, { logger: false });
  servers.add(server);
  const listening = await server.listen({ port, host: "127.0.0.1" });
  return { server, port: listening.port };
}

/** Cuts every connection and stops listening, so the port is free for the next server. */
async function stop(server: RetopyServer): Promise<void> {
  server.closeAllConnections();
  await server.close({ timeout: 500 });
  servers.delete(server);
}

async function client(options: RetopyClientOptions): Promise<RetopyClient> {
  const made = await RetopyClient.connect(options);
  clients.push(made);
  return made;
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

const isCode = (code: string, message?: RegExp) => (error: unknown) =>
  error instanceof ClientError && error.code === code && (message === undefined || message.test(error.message));

const fast = { initialDelay: 10, maxDelay: 50 };

describe("RetopyClient reconnect", () => {
  it("the policy fills defaults and backs off exponentially, with jitter, up to maxDelay", () => {
    assert.equal(reconnectPolicy(undefined), null);
    assert.equal(reconnectPolicy(false), null);
    assert.deepEqual(reconnectPolicy(true), { initialDelay: 100, maxDelay: 5000, factor: 2, maxAttempts: Infinity, whileDisconnected: "queue", maxQueue: 10_000 });
    const policy = reconnectPolicy({ initialDelay: 100, maxDelay: 1000 })!;
    assert.deepEqual([1, 2, 3, 4, 5, 9].map((attempt) => backoffDelay(policy, attempt, () => 1)), [100, 200, 400, 800, 1000, 1000]);
    assert.deepEqual([1, 2, 3].map((attempt) => backoffDelay(policy, attempt, () => 0)), [50, 100, 200], "jitter takes up to half of the step off");
  });

  it("after a server restart on the same port: in-flight calls fail with CONNECTION_LOST, queued calls are sent in order", { timeout: 8000 }, async () => {
    const first = await serve();
    const c = await client({ port: first.port, reconnect: fast });
    assert.equal(await c.call("increment", "restart"), 1);
    const inFlight = assert.rejects(c.call("slow", 2000), isCode("CONNECTION_LOST", /may or may not have run/));
    await sleep(50); // let it reach the server
    const reconnecting = once(c, "reconnecting");
    await stop(first.server);
    await within(inFlight, 2000, "the in-flight call to reject");
    const [event] = (await within(reconnecting, 2000, "reconnecting")) as [{ attempt: number; delay: number; error: Error }];
    assert.equal(event.attempt, 1);
    assert.ok(c.isOpen && c.isReconnecting);
    const queued = [c.call("increment", "restart"), c.call("increment", "restart"), c.pipeline().call("increment", "restart").exec()];
    await sleep(120); // a few attempts are refused meanwhile
    assert.equal(counts.get("restart"), 1, "nothing is sent while down");
    const reconnected = once(c, "reconnected");
    await serve(first.port);
    await within(reconnected, 3000, "reconnected");
    assert.deepEqual(await within(Promise.all(queued), 2000, "the queued calls"), [2, 3, [{ value: 4 }]]);
    assert.equal(await c.call("increment", "restart"), 5);
    assert.equal(c.isReconnecting, false);
    let closed = false;
    c.once("close", () => (closed = true));
    await c.close();
    assert.ok(closed);
  });

  it('whileDisconnected: "reject" rejects calls made while down with DISCONNECTED, then works again', { timeout: 8000 }, async () => {
    const first = await serve();
    const c = await client({ port: first.port, reconnect: { ...fast, whileDisconnected: "reject" } });
    const reconnecting = once(c, "reconnecting");
    await stop(first.server);
    await within(reconnecting, 2000, "reconnecting");
    await assert.rejects(c.call("increment", "rejected"), isCode("DISCONNECTED"));
    const results = await c.pipeline().call("increment", "rejected").exec();
    assert.ok(results[0]?.error instanceof ClientError && results[0].error.code === "DISCONNECTED");
    const reconnected = once(c, "reconnected");
    await serve(first.port);
    await within(reconnected, 3000, "reconnected");
    assert.equal(await c.call("increment", "rejected"), 1, "the rejected calls were never sent");
  });

  it("a full queue rejects further calls with DISCONNECTED (maxQueue)", { timeout: 8000 }, async () => {
    const first = await serve();
    const c = await client({ port: first.port, reconnect: { ...fast, maxQueue: 2 } });
    const reconnecting = once(c, "reconnecting");
    await stop(first.server);
    await within(reconnecting, 2000, "reconnecting");
    const kept = [c.call("increment", "full"), c.call("increment", "full")];
    await assert.rejects(c.call("increment", "full"), isCode("DISCONNECTED", /maxQueue 2/));
    const reconnected = once(c, "reconnected");
    await serve(first.port);
    await within(reconnected, 3000, "reconnected");
    assert.deepEqual(await Promise.all(kept), [1, 2]);
  });

  for (const protocol of ["resp3", "resp2"] as const) {
    it(`${protocol}: redoes the login, the name and the subscriptions; a message published after the restart arrives`, { timeout: 8000 }, async () => {
      const first = await serve();
      const options = { port: first.port, protocol, user: "alice", password: "s3cret", name: `again-${protocol}`, reconnect: fast };
      const sub = await client(options);
      const headed = await client({ port: first.port, protocol, header: { auth: "alice:s3cret" }, reconnect: fast });
      assert.equal(await sub.call("SUBSCRIBE", `ch-${protocol}`, `gone-${protocol}`), 2);
      assert.equal(await sub.call("UNSUBSCRIBE", `gone-${protocol}`), 1);
      const back = Promise.all([once(sub, "reconnected"), once(headed, "reconnected")]);
      await stop(first.server);
      await sleep(30);
      await serve(first.port);
      await within(back, 3000, "both reconnected");
      assert.equal(await sub.call("whoami"), "alice");
      assert.equal(await sub.call("CLIENT", "GETNAME"), `again-${protocol}`);
      assert.equal(await headed.call("whoami"), "alice", "the header line is sent again");
      const pushes: Reply[][] = [];
      sub.on("push", (values: Reply[]) => pushes.push(values));
      const pub = await client({ port: first.port });
      assert.equal(await pub.call("PUBLISH", `ch-${protocol}`, "after"), 1);
      assert.equal(await pub.call("PUBLISH", `gone-${protocol}`, "nobody"), 0, "an unsubscribed channel is not subscribed again");
      const deadline = Date.now() + 2000;
      while (pushes.length < 1 && Date.now() < deadline) await sleep(10);
      assert.deepEqual(pushes, [["message", `ch-${protocol}`, "after"]]);
      assert.equal(await sub.call("UNSUBSCRIBE"), 0, "the count the server gives is of the channels subscribed again");
    });
  }

  it("gives up after maxAttempts: emits close with an error; queued calls reject with CLOSED", { timeout: 8000 }, async () => {
    const first = await serve();
    const c = await client({ port: first.port, reconnect: { initialDelay: 5, maxDelay: 20, maxAttempts: 3 } });
    let attempts = 0;
    c.on("reconnecting", () => attempts++);
    const closed = once(c, "close");
    const reconnecting = once(c, "reconnecting");
    await stop(first.server);
    await within(reconnecting, 2000, "reconnecting");
    const queued = assert.rejects(c.call("increment", "never"), isCode("CLOSED"));
    const [error] = (await within(closed, 3000, "close")) as [ClientError];
    assert.ok(error instanceof ClientError && error.code === "CLOSED" && /gave up reconnecting after 3 attempts/.test(error.message), String(error));
    assert.equal(attempts, 3);
    assert.equal(c.isOpen, false);
    await queued;
    await assert.rejects(c.call("increment", "never"), isCode("CLOSED"));
    assert.equal(counts.get("never"), undefined);
  });

  it("without reconnect a dropped client stays closed", { timeout: 5000 }, async () => {
    const first = await serve();
    const c = await client({ port: first.port });
    const closed = once(c, "close");
    await stop(first.server);
    await within(closed, 2000, "close");
    await serve(first.port);
    await sleep(50);
    assert.equal(c.isOpen, false);
    await assert.rejects(c.call("increment", "stays"), isCode("CLOSED"));
  });

  it("close() during a reconnect stops it and leaves no timer: the process exits", { timeout: 10_000 }, async () => {
    const clientModule = new URL("../src/client/index.ts", import.meta.url).href;
    // A bare TCP listener is enough: RESP2 without login sends no handshake.
    const script = `
      import { createServer } from "node:net";
      import { once } from "node:events";
      const { RetopyClient } = await import(${JSON.stringify(clientModule)});
      const sockets = new Set();
      const server = createServer((socket) => sockets.add(socket));
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      const client = await RetopyClient.connect({ port: server.address().port, protocol: "resp2", reconnect: { initialDelay: 20, maxDelay: 40 } });
      server.close();
      for (const socket of sockets) socket.destroy();
      await once(client, "reconnecting");
      await once(client, "reconnecting");
      const queued = client.call("PING").catch((error) => error.code);
      await client.close();
      console.log("closed", client.isOpen, client.isReconnecting, await queued);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 8000);
    const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
    clearTimeout(timer);
    assert.equal(signal, null, `the child did not exit by itself: ${out}`);
    assert.equal(code, 0, out);
    assert.match(out, /closed false false CLOSED/);
  });
});

describe("RetopyClient command proxies", () => {
  it("describe() reads COMMAND DOCS: commands.increment calls it, unknown names are undefined, keys list the names", { timeout: 5000 }, async () => {
    const { port } = await serve();
    const c = await client({ port });
    const commands = await c.describe();
    assert.equal(await commands.increment?.("proxy-a"), 1);
    assert.equal(await c.commands.increment?.("proxy-a"), 2);
    assert.equal(c.commands.incremnt, undefined, "a typo is undefined");
    const names = Object.keys(c.commands);
    assert.ok(names.includes("increment") && names.includes("whoami") && names.includes("subscribe"), names.join(" "));
    assert.equal(Object.isFrozen(c.commands), true);

    type Typed = { increment(key: string): Promise<number> };
    const typed = await c.describe<Typed>();
    const three: number = await typed.increment("proxy-a");
    assert.equal(three, 3);
  });

  it("the describe option fills commands at connect, also over RESP2", { timeout: 5000 }, async () => {
    const { port } = await serve();
    const before = await client({ port });
    assert.throws(() => before.commands, /describe/);
    for (const protocol of ["resp3", "resp2"] as const) {
      const c = await client({ port, protocol, describe: true });
      assert.equal(await c.commands.increment?.(`proxy-${protocol}`), 1);
      assert.equal(c.commands.nope, undefined);
    }
  });
});
