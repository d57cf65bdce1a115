/**
 * The server's managed Redis connection (the `redis` option, `this.server.redis`) against a
 * real redis-server on 127.0.0.1, driven by real TCP clients: shared state across two
 * servers, a clear failure at listen() when Redis cannot be reached, a close() that drains a
 * command mid-call to Redis and then leaves no handle, Redis stopped and restarted under
 * load, `/db` kept across reconnects, and a URL's password used and never logged.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import { Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import { after, describe, it } from "node:test";
import { Application, RetopyError, RetopyServer, type RetopyServerOptions, status } from "../src/index.js";
import { ClientError, RetopyClient } from "../src/client/index.js";
import { freePort, type RedisServer, startRedisServer } from "./redis-support.js";
import { eventually, runProgram, useTestBed } from "./support.js";

/** Commands that keep their data in the server's Redis. */
function redisApp(): Application {
  return new Application([])
    .command("rincr", { params: ["key"] }, (h) => h.server.redis.call("INCR", h.getArgument("key")))
    .command("rset", { params: ["key", "value"] }, async (h) => {
      await h.server.redis.call("SET", h.getArgument("key"), h.getArgument("value"));
      return status("OK");
    })
    .command("rget", { params: ["key"] }, (h) => h.server.redis.call("GET", h.getArgument("key")))
    // Blocks in Redis until something is pushed to the list: a command mid-call for as long as a test needs.
    .command("rpop", { params: ["key"] }, async (h) => ((await h.server.redis.call("BLPOP", h.getArgument("key"), "0")) as string[])[1])
    .command("local", {}, () => status("PONG"));
}

/** pino's lines, kept as text, to assert what was (and was not) logged. */
function logSink(): { options: RetopyServerOptions["logger"]; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { options: { level: "debug", destination: stream }, text: () => text };
}

const redises: RedisServer[] = [];
after(() => {
  for (const redis of redises) redis.stop();
});

async function redisServer(options: { port?: number; password?: string } = {}): Promise<RedisServer> {
  const redis = await startRedisServer(options);
  redises.push(redis);
  return redis;
}

/** Stops redis-server and waits until it is gone, so its port can be used again. */
async function stopRedis(redis: RedisServer): Promise<void> {
  const exited = redis.process.exitCode === null ? once(redis.process, "exit") : Promise.resolve();
  redis.stop();
  await exited;
}

/** Waits for the server's client to come back after a drop (bounded). */
async function reconnected(server: RetopyServer): Promise<void> {
  await eventually(() => server.redis.isReconnecting, 5000, "the drop to be seen");
  await eventually(() => !server.redis.isReconnecting, 10_000, "the reconnect");
}

describe("the redis option", () => {
  const bed = useTestBed();

  it("two servers share their state through this.server.redis, in the URL's database", async () => {
    const redis = await redisServer();
    const url = `redis://127.0.0.1:${redis.port}/4`;
    const first = await bed.open(await bed.serve(redisApp(), { redis: url }));
    const second = await bed.open(await bed.serve(redisApp(), { redis: url }));
    assert.equal(await first.command("rincr hits"), "1");
    assert.equal(await second.command("rincr hits"), "2");
    assert.equal(await first.command("rincr hits"), "3");
    assert.equal(await second.command("rset name ada"), "+OK");
    assert.equal(await first.command("rget name"), "ada");
    // In database 4 and nowhere else.
    assert.equal(await redis.client.get("hits"), null);
    await redis.client.select(4);
    assert.equal(await redis.client.get("hits"), "3");
    assert.equal(bed.servers[0]!.server.redis.isOpen, true);
  });

  it("without the option, this.server.redis throws a coded error; the command gets the internal error and the server goes on", async () => {
    const { server, port } = await bed.start(redisApp());
    assert.throws(() => server.redis, (error: RetopyError) => error.code === "RETOPY_INVALID_OPTION" && /`redis` option/.test(error.message));
    const client = await bed.open(port);
    assert.equal(await client.command("rincr a"), "-ERR Internal Server Error");
    assert.equal(await client.command("local"), "+PONG");
  });

  it("costs nothing when off: retopy's client is never loaded, so no socket either", async () => {
    const fixture = new URL("fixtures/redis-client-not-loaded.mjs", import.meta.url).pathname;
    const index = new URL("../src/index.ts", import.meta.url).pathname;
    const run = (...args: string[]) => runProgram(process.execPath, ["--import", "tsx", fixture, index, ...args]);
    const off = await run();
    assert.equal(off.stdout, "listened\n", off.stderr);
    // The same hook does see the client when the option is on: the check above can fail.
    const on = await run(`redis://127.0.0.1:${await freePort()}`);
    assert.match(on.stdout, /^listen failed: .*the client module was loaded/, on.stderr);
  });

  it("a URL that is not a Redis URL is refused by the constructor, its password masked", () => {
    assert.throws(
      () => new RetopyServer(redisApp(), { logger: false, redis: "http://user:hunter2@127.0.0.1:6379" }),
      (error: RetopyError) => error.code === "RETOPY_INVALID_OPTION" && error.message.includes("***") && !error.message.includes("hunter2"),
    );
  });

  it("listen() fails with RETOPY_REDIS_UNAVAILABLE when nothing listens there, binds no port, and a retry connects once Redis is up", async () => {
    const port = await freePort();
    const server = new RetopyServer(redisApp(), { logger: false, redis: `redis://:hunter2@127.0.0.1:${port}` });
    await assert.rejects(server.listen({ port: 0 }), (error: RetopyError) => {
      assert.equal(error.code, "RETOPY_REDIS_UNAVAILABLE");
      assert.match(error.message, new RegExp(`cannot connect to Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
      assert.ok(!error.message.includes("hunter2"), error.message);
      return true;
    });
    assert.equal(server.address(), null);
    assert.throws(() => server.redis, (error: RetopyError) => error.code === "RETOPY_SERVER_STATE");
    await redisServer({ port, password: "hunter2" });
    const { port: bound } = await server.listen({ port: 0 });
    try {
      const client = await bed.open(bound);
      assert.equal(await client.command("rincr retried"), "1");
    } finally {
      await server.close({ timeout: 2000 });
    }
  });

  it("a second listen() while the first connects to Redis is refused without closing the first's connection", async () => {
    const redis = await redisServer();
    const server = new RetopyServer(redisApp(), { logger: false, redis: `redis://127.0.0.1:${redis.port}` });
    try {
      const [first, second] = await Promise.allSettled([server.listen({ port: 0 }), server.listen({ port: 0 })]);
      assert.equal(first.status, "fulfilled");
      assert.equal(second.status, "rejected");
      assert.match(String((second as PromiseRejectedResult).reason), /already listening/);
      const client = await bed.open(server.address()!.port);
      assert.equal(await client.command("rincr twice"), "1");
    } finally {
      await server.close({ timeout: 2000 });
    }
  });

  it("a port already in use fails listen() and lets go of Redis: no connection is left open there", async () => {
    const redis = await redisServer();
    const taken = createServer();
    taken.listen(0, "127.0.0.1");
    await once(taken, "listening");
    const server = new RetopyServer(redisApp(), { logger: false, redis: `redis://127.0.0.1:${redis.port}` });
    try {
      await assert.rejects(server.listen({ port: (taken.address() as { port: number }).port }), /EADDRINUSE/);
      assert.throws(() => server.redis, (error: RetopyError) => error.code === "RETOPY_SERVER_STATE");
      await eventuallyAsync(async () => String(await redis.client.client("LIST")).trim().split("\n").length === 1, "the server's Redis connection to go");
    } finally {
      taken.close();
      await server.close();
    }
  });

  it("close() while listen() connects to Redis: listen() rejects, close() resolves, no connection is left on Redis", async () => {
    const redis = await redisServer();
    const server = new RetopyServer(redisApp(), { logger: false, redis: `redis://127.0.0.1:${redis.port}` });
    const listening = server.listen({ port: 0 });
    const closed = server.close({ timeout: 2000 });
    await assert.rejects(listening, (error: RetopyError) => error.code === "RETOPY_SERVER_STATE");
    await closed;
    assert.equal(server.address(), null);
    await eventuallyAsync(async () => String(await redis.client.client("LIST")).trim().split("\n").length === 1, "the server's Redis connection to go");
  });

  it("listen() fails after connectTimeout when something accepts but never answers", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const { port } = silent.address() as { port: number };
    try {
      const server = new RetopyServer(redisApp(), { logger: false, redis: { port, connectTimeout: 300 } });
      await assert.rejects(server.listen({ port: 0 }), (error: RetopyError) => {
        assert.equal(error.code, "RETOPY_REDIS_UNAVAILABLE");
        assert.match(error.message, /: no reply within \d+ ms/);
        return true;
      });
      assert.equal(server.address(), null);
      await server.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it("close() lets a command mid-call to Redis finish and reply, then closes the Redis connection", async () => {
    const redis = await redisServer();
    const { server, port } = await bed.start(redisApp(), { redis: `redis://127.0.0.1:${redis.port}` });
    const client = await bed.open(port);
    client.send("rpop jobs");
    // Redis holds the server's BLPOP: the command is mid-call.
    await eventuallyAsync(async () => String(await redis.client.client("LIST")).includes("cmd=blpop"), "BLPOP to reach Redis");
    const closing = server.close({ timeout: 5000 });
    await redis.client.lpush("jobs", "job-1");
    assert.equal(await client.readLine(), "job-1");
    assert.deepEqual(await closing, { droppedCommands: 0, connectionsCut: 0 });
    assert.equal(server.redis.isOpen, false);
    // Only the test's own connection is left on redis-server.
    const clients = String(await redis.client.client("LIST")).trim().split("\n");
    assert.equal(clients.length, 1, clients.join("\n"));
  });

  it("leaves no handle behind: a process that served a Redis command exits by itself after close()", async () => {
    const redis = await redisServer();
    const index = pathToFileURL(new URL("../src/index.ts", import.meta.url).pathname).href;
    const script = `
      const { Application, RetopyServer } = await import(${JSON.stringify(index)});
      const { connect } = await import("node:net");
      const app = new Application([]).command("rincr", { params: ["key"] }, (h) => h.server.redis.call("INCR", h.getArgument("key")));
      const server = new RetopyServer(app, { logger: false, redis: "redis://127.0.0.1:${redis.port}" });
      const { port } = await server.listen({ port: 0 });
      const socket = connect(port, "127.0.0.1");
      socket.write("rincr exits\\r\\n");
      const [reply] = await (await import("node:events")).once(socket, "data");
      socket.destroy();
      await server.close({ timeout: 2000 });
      console.log("replied", String(reply).trim());
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
    clearTimeout(timer);
    assert.equal(signal, null, `the child did not exit by itself: ${out}`);
    assert.equal(code, 0, out);
    assert.match(out, /replied 1/);
  });

  it("Redis stopped: commands that use it reply a clear error, the rest keep working; Redis restarted: they work again", async () => {
    let redis = await redisServer();
    const logs = logSink();
    const { server, port } = await bed.start(redisApp(), { redis: { port: redis.port, reconnect: { initialDelay: 20, maxDelay: 100 } }, logger: logs.options });
    const busy = await bed.open(port);
    const other = await bed.open(port);
    assert.equal(await busy.command("rincr n"), "1");
    busy.send("rpop never"); // in flight when Redis goes
    await eventuallyAsync(async () => String(await redis.client.client("LIST")).includes("cmd=blpop"), "BLPOP to reach Redis");
    await stopRedis(redis);
    assert.equal(await busy.readLine(), "-ERR Redis connection lost during the command: it may or may not have taken effect");
    await eventually(() => server.redis.isReconnecting, 5000, "the drop to be seen");
    assert.equal(await busy.command("rincr n"), "-ERR Redis is unavailable: the command did not reach it; try again later");
    assert.equal(await other.command("local"), "+PONG");
    assert.equal(await other.command("rget n"), "-ERR Redis is unavailable: the command did not reach it; try again later");
    // A new client is served too.
    const late = await bed.open(port);
    assert.equal(await late.command("local"), "+PONG");
    redis = await redisServer({ port: redis.port });
    await eventually(() => !server.redis.isReconnecting, 10_000, "the reconnect");
    assert.equal(await busy.command("rincr n"), "1"); // a fresh redis-server: no data kept
    assert.equal(await other.command("rget n"), "1");
    // One warning for the outage and one line for the recovery, not one per attempt.
    const lines = logs.text().split("\n").filter((line) => line.includes('"redis connection lost'));
    assert.equal(lines.length, 1, logs.text());
    assert.match(logs.text(), /"msg":"redis reconnected"/);
    assert.match(logs.text(), /"msg":"command failed: Redis unavailable"/);
    assert.doesNotMatch(logs.text(), /"msg":"command failed"/); // not logged as a bug of the command
  });

  it("SELECTs the URL's database again after a reconnect", async () => {
    const redis = await redisServer();
    const { server, port } = await bed.start(redisApp(), { redis: `redis://127.0.0.1:${redis.port}/7` });
    const client = await bed.open(port);
    assert.equal(await client.command("rset before drop"), "+OK");
    await redis.client.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
    await reconnected(server);
    assert.equal(await client.command("rset after reconnect"), "+OK");
    await redis.client.select(7);
    assert.deepEqual(await redis.client.mget("before", "after"), ["drop", "reconnect"]);
    await redis.client.select(0);
    assert.deepEqual(await redis.client.mget("before", "after"), [null, null]);
  });

  it("logs in with the URL's credentials, again after a reconnect, and never logs the password", async () => {
    const password = "s3cr3t p@ss/word";
    const redis = await redisServer({ password });
    const logs = logSink();
    const url = `redis://default:${encodeURIComponent(password)}@127.0.0.1:${redis.port}/2`;
    const { server, port } = await bed.start(redisApp(), { redis: url, logger: logs.options });
    const client = await bed.open(port);
    assert.equal(await client.command("rincr logins"), "1");
    await redis.client.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
    await reconnected(server);
    assert.equal(await client.command("rincr logins"), "2");
    // A wrong password fails listen() with Redis's reason, and without the password.
    const wrong = new RetopyServer(redisApp(), { logger: logs.options, redis: `redis://default:not-${encodeURIComponent(password)}@127.0.0.1:${redis.port}` });
    await assert.rejects(wrong.listen({ port: 0 }), (error: RetopyError) => {
      assert.equal(error.code, "RETOPY_REDIS_UNAVAILABLE");
      assert.match(error.message, /WRONGPASS/);
      assert.ok(!error.message.includes("s3cr3t") && !error.message.includes("s3cr3t%20"), error.message);
      return true;
    });
    await wrong.close();
    await server.close({ timeout: 2000 });
    assert.match(logs.text(), /redis connected/);
    assert.ok(!logs.text().includes("s3cr3t"), logs.text());
  });
});

/** As `eventually`, for a predicate that must ask something over the network. */
async function eventuallyAsync(predicate: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("RetopyClient's db option", () => {
  it("SELECTs the database at connect and again after each reconnect; a bad db is refused", async () => {
    const redis = await redisServer();
    const client = await RetopyClient.connect({ port: redis.port, db: 3, protocol: "resp2", reconnect: { initialDelay: 10, maxDelay: 50 } });
    try {
      await client.call("SET", "k", "first");
      await redis.client.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
      await once(client, "reconnected");
      await client.call("SET", "k2", "second");
      await redis.client.select(3);
      assert.deepEqual(await redis.client.mget("k", "k2"), ["first", "second"]);
      await redis.client.select(0);
      assert.deepEqual(await redis.client.mget("k", "k2"), [null, null]);
    } finally {
      client.destroy();
    }
    await assert.rejects(RetopyClient.connect({ port: redis.port, db: -1 }), (error: ClientError) => error.code === "CONNECT" && /db must be/.test(error.message));
  });
});
