/**
 * Attacks on the hooks, command statistics, metrics, PING/ECHO and reply checks added for
 * issue 13, as a hostile client, a careless handler and a slow network would make them,
 * over real TCP on 127.0.0.1. Each test names what it attacks and what must hold.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { pino } from "pino";
import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { once } from "node:events";
import { connect, createServer, type AddressInfo } from "node:net";
import { Application, CommandError, RetopyServer } from "../../src/index.js";
import { eventually, OPEN_PUBSUB, useTestBed } from "../support.js";
import { connectRedis } from "../redis-support.js";

describe("issue 13 attacks: connection hooks", () => {
  const bed = useTestBed();

  it("a client that leaves while an async preCommand hook runs: its command is not started (as after an async prepare)", async () => {
    const app = new Application();
    let ran = 0;
    app.command("incr", {}, () => ++ran);
    let hooked = 0;
    app.addHook("preCommand", async () => {
      hooked++;
      await sleep(100);
    });
    const port = await bed.serve(app);
    const client = await bed.open(port);
    client.send("incr");
    await eventually(() => hooked === 1);
    client.close(); // gone while the hook still checks (a rate limit asking a database)
    await sleep(250);
    assert.equal(ran, 0, "the command ran for a client that had left");
  });

  it("a sync preCommand hook throwing a Proxy whose traps throw: the command is counted rejected and onResponse hears of it", async () => {
    const app = new Application();
    app.command("hello", { params: ["n"] }, (h) => h.getArgument("n"));
    const hostile = new Proxy({}, { get: () => { throw new Error("trap"); }, getPrototypeOf: () => { throw new Error("trap"); } });
    app.addHook("preCommand", ({ argv }) => {
      if (argv[1] === "x") throw hostile;
    });
    const outcomes: string[] = [];
    app.addHook("onResponse", ({ argv, outcome }) => void outcomes.push(`${String(argv[1])} ${outcome}`));
    const port = await bed.serve(app);
    const client = await bed.open(port);
    client.send("hello x");
    client.send("hello 1");
    assert.deepEqual(await client.readLines(2), ["-ERR Internal Server Error", "1"]);
    await eventually(() => outcomes.length === 2, 1000, `two onResponse calls, got ${JSON.stringify(outcomes)}`);
    assert.deepEqual(outcomes, ["x rejected", "1 ok"]);
  });

  for (const kind of ["sync", "async"] as const) {
    it(`a ${kind} onConnect hook throwing a Proxy whose traps throw: that client gets the internal error and is closed, the server lives on`, async () => {
      const app = new Application();
      app.command("hello", {}, () => "world");
      const hostile = new Proxy({}, { get: () => { throw new Error("trap"); }, getPrototypeOf: () => { throw new Error("trap"); } });
      let first = true;
      app.addHook("onConnect", kind === "sync" ? () => {
        if (first) {
          first = false;
          throw hostile;
        }
      } : async () => {
        if (first) {
          first = false;
          throw hostile;
        }
      });
      const port = await bed.serve(app);
      const client = await bed.open(port);
      client.send("hello");
      assert.equal(await client.readLine(), "-ERR Internal Server Error");
      await client.closed();
      const next = await bed.open(port);
      assert.equal(await next.command("hello"), "world");
    });
  }

  for (const kind of ["sync", "async"] as const) {
    it(`an onClose hook that fails and a ${kind} onError hook that throws a Proxy whose traps throw: logged as far as it can be, the server lives on`, async () => {
      const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
      const app = new Application();
      app.command("hello", {}, () => "world");
      const hostile = new Proxy({}, { get: () => { throw new Error("trap"); }, getPrototypeOf: () => { throw new Error("trap"); }, ownKeys: () => { throw new Error("trap"); } });
      app.addHook("onClose", () => {
        throw new Error("the close hook broke");
      });
      let told = 0;
      app.addHook("onError", kind === "sync" ? () => {
        told++;
        throw hostile;
      } : async () => {
        told++;
        throw hostile;
      });
      const port = await bed.serve(app, { logger: pino({ level: "error" }, sink) });
      const client = await bed.open(port);
      assert.equal(await client.command("hello"), "world");
      client.close();
      await eventually(() => told === 1);
      await sleep(50);
      const next = await bed.open(port);
      assert.equal(await next.command("hello"), "world");
    });
  }

  it("a client that leaves while an async onConnect runs: onClose runs after onConnect is done, never before", async () => {
    const app = new Application();
    app.command("hello", {}, () => "world");
    const events: string[] = [];
    app.addHook("onConnect", async () => {
      events.push("connect start");
      await sleep(100);
      events.push("connect end");
    });
    app.addHook("onClose", (_connection, reason) => void events.push(`close ${reason}`));
    const port = await bed.serve(app);
    const client = await bed.open(port);
    client.send("hello"); // pipelined behind the hook, then the client leaves mid-hook
    await eventually(() => events.length === 1);
    client.close();
    await eventually(() => events.length === 3, 3000, "onConnect and onClose");
    assert.deepEqual(events, ["connect start", "connect end", "close client_closed"]);
  });
});

/** A port nothing listens on now (bound then released). */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** True if something accepts TCP connections on 127.0.0.1:port. */
async function accepting(port: number): Promise<boolean> {
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "connect");
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

describe("issue 13 attacks: the metrics endpoint's life", () => {
  it("a listen() that fails (its port is taken) leaves no metrics endpoint listening behind it", async () => {
    const taken = createServer().listen(0, "127.0.0.1");
    await once(taken, "listening");
    const metricsPort = await freePort();
    const server = new RetopyServer(new Application(), { logger: false, metrics: { port: metricsPort } });
    try {
      await assert.rejects(server.listen({ port: (taken.address() as AddressInfo).port, host: "127.0.0.1" }), /EADDRINUSE/);
      assert.equal(await accepting(metricsPort), false, "the metrics endpoint of a server that never listened still accepts (and holds the process open)");
    } finally {
      await server.close({ timeout: 500 });
      taken.close();
    }
  });

  it("close() while listen() still loads prom-client: no metrics endpoint is left listening after both settle", async () => {
    const metricsPort = await freePort();
    const server = new RetopyServer(new Application(), { logger: false, metrics: { port: metricsPort } });
    const listening = server.listen({ port: 0, host: "127.0.0.1" });
    await server.close({ timeout: 500 });
    await assert.rejects(listening, /closed/);
    assert.equal(await accepting(metricsPort), false, "a metrics endpoint outlived the server's close()");
  });
});

describe("issue 13 attacks: what held", () => {
  const bed = useTestBed();

  it("a refusal whose message holds CRLF cannot inject a reply: preCommand and onConnect refusals stay one line", async () => {
    const app = new Application();
    app.command("hello", {}, () => "world");
    app.addHook("preCommand", ({ argv }) => {
      if (argv[1] === "evil") throw new CommandError("no\r\n+OK\r\n:1", "RATELIMIT");
    });
    const port = await bed.serve(app);
    const client = await bed.open(port);
    client.send("hello evil");
    client.send("hello");
    const lines = await client.readLines(2);
    assert.match(lines[0]!, /^-RATELIMIT no/);
    assert.equal(lines[1], "world");

    const refusing = new Application();
    refusing.addHook("onConnect", async () => {
      throw new CommandError("bye\r\n+OK", "DENIED");
    });
    const other = await bed.open(await bed.serve(refusing));
    await other.closed();
    assert.equal(other.raw.split("\r\n").filter(Boolean).length, 1, JSON.stringify(other.raw));
  });

  it("PING and ECHO with a 1 MB and a binary argument come back byte for byte, in RESP2 subscribed mode too", async () => {
    const app = new Application([], { builtinLogin: OPEN_PUBSUB });
    const port = await bed.serve(app);
    const client = await bed.open(port);
    const big = "x".repeat(1 << 20);
    const binary = Buffer.from([0, 13, 10, 255, 36, 42]);
    const bulk = (b: Buffer) => Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n")]);
    const request = (...args: Buffer[]) => Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.map(bulk)]);
    client.socket.setEncoding("latin1");
    client.write(Buffer.concat([request(Buffer.from("ECHO"), Buffer.from(big)), request(Buffer.from("PING"), binary), request(Buffer.from("SUBSCRIBE"), Buffer.from("c")), request(Buffer.from("PING"), binary)]));
    const expected = Buffer.concat([
      bulk(Buffer.from(big)),
      bulk(binary),
      Buffer.from("*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"),
      Buffer.from("*2\r\n$4\r\npong\r\n"),
      bulk(binary),
    ]).toString("latin1");
    await eventually(() => client.raw.length >= expected.length, 5000, "the replies");
    assert.equal(client.raw, expected);
  });

  it("a published Map holding a function is refused before any subscriber gets part of it", async () => {
    const app = new Application([], { builtinLogin: OPEN_PUBSUB });
    app.command("pubevil", {}, (h) => h.server.pubsub.publish("c", new Map<unknown, unknown>([["k", () => "source"]]) as never));
    const port = await bed.serve(app);
    const subscriber = await bed.open(port);
    subscriber.send("subscribe c");
    await subscriber.readLines(1);
    const publisher = await bed.open(port);
    assert.equal(await publisher.command("pubevil"), "-ERR Internal Server Error");
    const pong = await subscriber.command("ping");
    assert.ok(pong.startsWith("PONG") || pong.startsWith("+PONG") || pong.startsWith("pong"), pong);
    assert.ok(!subscriber.raw.includes("source"), "no part of the message reached the subscriber");
  });

  it("hooks that throw non-Errors (null, a Symbol, a string, a Proxy whose every trap throws) cost one reply each, never the order", async () => {
    const app = new Application();
    app.command("hello", { params: ["n"] }, (h) => h.getArgument("n"));
    const hostile = new Proxy({}, { get: () => { throw new Error("trap"); }, getPrototypeOf: () => { throw new Error("trap"); } });
    const thrown: Record<string, unknown> = { a: null, b: Symbol("s"), c: "a string", d: hostile };
    app.addHook("preCommand", async ({ argv }) => {
      const key = String(argv[1]);
      if (key in thrown) throw thrown[key];
    });
    app.addHook("onResponse", ({ argv }) => {
      if (argv[1] === "e") throw Symbol("late");
    });
    const port = await bed.serve(app);
    const client = await bed.open(port);
    for (const n of ["a", "1", "b", "2", "c", "3", "d", "4", "e", "5"]) client.send(`hello ${n}`);
    const lines = await client.readLines(10);
    assert.deepEqual(lines, ["-ERR Internal Server Error", "1", "-ERR Internal Server Error", "2", "-ERR Internal Server Error", "3", "-ERR Internal Server Error", "4", "e", "5"]);
  });
});

describe("issue 13 attacks: INFO as parsers read it", () => {
  const bed = useTestBed();

  it("a command named with a ':' keeps INFO commandstats/latencystats lines 'key:value' (Redis's getSafeInfoString makes it '_')", async () => {
    const app = new Application();
    app.command("ns:get", {}, () => "v");
    const port = await bed.serve(app);
    const redis = await connectRedis(port);
    try {
      assert.equal(await redis.call("ns:get"), "v");
      const info = String(await redis.call("info", "commandstats", "latencystats"));
      const fields = new Map(info.split("\r\n").filter((line) => line && !line.startsWith("#")).map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1)]));
      assert.match(fields.get("cmdstat_ns_get") ?? "", /^calls=1,usec=\d+,/, info);
      assert.match(fields.get("latency_percentiles_usec_ns_get") ?? "", /^p50=/, info);
    } finally {
      redis.disconnect();
    }
  });
});

describe("issue 13 attacks: what held (clock and endpoint)", () => {
  const bed = useTestBed();

  it("latency: a command behind an async preCommand on one connection is charged its own wait; sync commands of another connection meanwhile are not", async () => {
    const app = new Application();
    app.command("slow", {}, () => "s");
    app.command("fast", {}, () => "f");
    app.addHook("preCommand", async ({ command }) => {
      if (command === "slow") await sleep(80);
    });
    const port = await bed.serve(app);
    const a = await bed.open(port);
    const b = await bed.open(port);
    assert.equal(await b.command("fast"), "f");
    a.send("slow");
    for (let i = 0; i < 20; i++) {
      assert.equal(await b.command("fast"), "f");
      await sleep(2);
    }
    assert.equal(await a.readLine(), "s");
    const redis = await connectRedis(port);
    try {
      const info = String(await redis.call("info", "commandstats"));
      const usec = (name: string) => Number(/usec=(\d+)/.exec(info.split("\r\n").find((l) => l.startsWith(`cmdstat_${name}:`)) ?? "")?.[1]);
      assert.ok(usec("slow") >= 70_000, info);
      assert.ok(usec("fast") < 20_000, info);
    } finally {
      redis.disconnect();
    }
  });

  it("the metrics endpoint: other methods and paths get 404, HEAD no body, a query string is ignored, an idle keep-alive client does not hold close()", async () => {
    const metricsPort = await freePort();
    const server = new RetopyServer(new Application(), { logger: false, metrics: { port: metricsPort } });
    await server.listen({ port: 0, host: "127.0.0.1" });
    const call = (method: string, path: string, agent?: import("node:http").Agent) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: metricsPort, method, path, agent }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk)).on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end(method === "POST" ? "x".repeat(1 << 16) : undefined);
      });
    const { Agent } = await import("node:http");
    const keepAlive = new Agent({ keepAlive: true });
    try {
      assert.equal((await call("POST", "/metrics")).status, 404);
      assert.equal((await call("DELETE", "/metrics")).status, 404);
      assert.equal((await call("GET", "/metrics/../metrics2")).status, 404);
      const head = await call("HEAD", "/metrics");
      assert.deepEqual([head.status, head.body], [200, ""]);
      const got = await call("GET", "/metrics?name[]=x", keepAlive);
      assert.equal(got.status, 200);
      assert.match(got.body, /retopy_commands_total|retopy_connections/);
    } finally {
      const started = Date.now();
      await server.close({ timeout: 2000 });
      assert.ok(Date.now() - started < 1500, "close() waited for an idle keep-alive metrics client");
      keepAlive.destroy();
    }
  });
});
