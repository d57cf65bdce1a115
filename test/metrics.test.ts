/**
 * Prometheus metrics over real HTTP after real TCP traffic: the endpoint is scraped with
 * fetch and its exposition text parsed line by line. Byte counters are checked exactly
 * against what the line clients wrote and read.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { connect, type AddressInfo, type Socket } from "node:net";
import { describe, it } from "node:test";
import { Application, RetopyServer, status } from "../src/index.js";
import { connectRedis } from "./redis-support.js";
import { eventually, TextClient, useTestBed } from "./support.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus's text exposition format (0.0.4): HELP and TYPE comments, then samples. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith("# HELP ")) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `not an exposition line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    // Go's ParseFloat, which Prometheus uses, takes NaN in any case (prom-client writes "Nan"
    // for an event-loop lag not sampled yet) and ±Inf.
    const raw = sample[3]!;
    const value = /^nan$/i.test(raw) ? Number.NaN : /^\+?inf$/i.test(raw) ? Infinity : /^-inf$/i.test(raw) ? -Infinity : Number(raw);
    assert.ok(/^nan$/i.test(raw) || !Number.isNaN(value), `value of ${line}`);
    samples.push({ name: sample[1]!, labels, value });
  }
  return { samples, types };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

async function scrape(server: RetopyServer): Promise<{ samples: Sample[]; types: Map<string, string>; text: string }> {
  const address = server.metricsAddress();
  assert.ok(address, "the metrics endpoint listens");
  const response = await fetch(`http://127.0.0.1:${address.port}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  return { ...parseExposition(text), text };
}

function app(): Application {
  const store = new Map<string, string>();
  const application = new Application();
  application.command("set", { params: ["key", "value"] }, (h) => {
    store.set(h.getArgument("key"), h.getArgument("value"));
  });
  application.command("get", { params: ["key"] }, (h) => store.get(h.getArgument("key")) ?? null);
  application.command("later", {}, async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return status("LATER");
  });
  application.command("boom", {}, () => {
    throw new Error("broken");
  });
  return application;
}

/** Connects and waits until the server has registered the connection. */
async function rawSocket(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  socket.resume(); // read what the server says, or its close is never seen
  await once(socket, "connect");
  return socket;
}

describe("metrics endpoint", () => {
  const bed = useTestBed();

  it("counts commands by name and outcome, their durations, connections by state, bytes exactly, rejections and closes", async () => {
    const running = await bed.start(app(), { metrics: { port: 0 }, maxConnections: 3 });
    const { server, port } = running;
    const a = await bed.open(port);
    const b = await bed.open(port);
    for (let i = 0; i < 10; i++) assert.equal(await a.command(`set k${i} v${i}`), "+OK");
    assert.equal(await a.command("get k3"), "v3");
    assert.equal(await b.command("later"), "+LATER");
    assert.equal(await b.command("boom"), "-ERR Internal Server Error");
    assert.match(await b.command("set onlykey"), /^-ERR wrong number of arguments/);
    assert.match(await b.command("nosuch"), /^-ERR unknown command/);
    // A third client that sent nothing yet: its statechart waits in `header`.
    const silent = await rawSocket(port);
    await eventually(() => server.connections.size === 3);
    // A fourth is refused at maxConnections.
    const refused = await rawSocket(port);
    await once(refused, "close");

    const { samples, types } = await scrape(server);
    assert.equal(types.get("retopy_commands_total"), "counter");
    assert.equal(value(samples, "retopy_commands_total", { command: "set", outcome: "ok" }), 10);
    assert.equal(value(samples, "retopy_commands_total", { command: "set", outcome: "rejected" }), 1);
    assert.equal(value(samples, "retopy_commands_total", { command: "get", outcome: "ok" }), 1);
    assert.equal(value(samples, "retopy_commands_total", { command: "boom", outcome: "error" }), 1);
    assert.equal(value(samples, "retopy_commands_total", { command: "later", outcome: "ok" }), 1);

    assert.equal(types.get("retopy_command_duration_seconds"), "histogram");
    const buckets = samples.filter((s) => s.name === "retopy_command_duration_seconds_bucket" && s.labels.command === "set");
    assert.equal(buckets.at(-1)!.labels.le, "+Inf");
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(Number(buckets[i]!.labels.le) > Number(buckets[i - 1]!.labels.le) || buckets[i]!.labels.le === "+Inf");
      assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, "buckets are cumulative");
    }
    assert.equal(buckets.at(-1)!.value, 10, "rejected calls are not timed");
    assert.equal(value(samples, "retopy_command_duration_seconds_count", { command: "set" }), 10);
    // `later` waits 5 ms: its one observation is above the 4.096 ms bound.
    assert.equal(value(samples, "retopy_command_duration_seconds_bucket", { command: "later", le: "0.004096" }), 0);
    assert.ok(value(samples, "retopy_command_duration_seconds_sum", { command: "later" })! >= 0.004);

    assert.equal(types.get("retopy_connections"), "gauge");
    assert.equal(value(samples, "retopy_connections", { state: "reading" }), 2);
    assert.equal(value(samples, "retopy_connections", { state: "header" }), 1);
    assert.equal(value(samples, "retopy_connections", { state: "lingering" }), 0);
    assert.equal(value(samples, "retopy_connections_rejected_total", { reason: "max_connections" }), 1);

    // Exact: every byte the clients wrote was read, every byte they read was written.
    const written = [a, b].reduce((n, client) => n + client.socket.bytesWritten, 0);
    const read = [a, b].reduce((n, client) => n + Buffer.byteLength(client.raw), 0);
    assert.equal(value(samples, "retopy_received_bytes_total"), written);
    assert.equal(value(samples, "retopy_sent_bytes_total"), read);

    // Closed connections keep their bytes in the totals, and are counted by reason.
    assert.equal(await a.command("quit"), "+OK");
    await a.closed();
    silent.destroy();
    await eventually(() => server.connections.size === 1);
    const after = await scrape(server);
    assert.equal(value(after.samples, "retopy_received_bytes_total"), written + "quit\r\n".length);
    assert.equal(value(after.samples, "retopy_connections_closed_total", { reason: "quit" }), 1);
    assert.equal(value(after.samples, "retopy_connections_closed_total", { reason: "client_closed" }), 1);
    assert.equal(value(after.samples, "retopy_connections", { state: "reading" }), 1);
  });

  it("CONFIG RESETSTAT resets INFO but never the Prometheus counters (they only go up)", async () => {
    const { server, port } = await bed.start(app(), { metrics: { port: 0 } });
    const redis = await connectRedis(port);
    try {
      await redis.call("set", "a", "1");
      await redis.call("set", "a", "2");
      await redis.call("config", "resetstat");
      await redis.call("set", "a", "3");
      assert.match(String(await redis.call("info", "commandstats")), /cmdstat_set:calls=1,/);
      const { samples } = await scrape(server);
      assert.equal(value(samples, "retopy_commands_total", { command: "set", outcome: "ok" }), 3);
    } finally {
      redis.disconnect();
    }
  });

  it("default process metrics only when asked; other paths are 404", async () => {
    const plain = await bed.start(app(), { metrics: { port: 0 } });
    const withDefaults = await bed.start(app(), { metrics: { port: 0, defaultMetrics: true } });
    assert.equal(value((await scrape(plain.server)).samples, "process_cpu_user_seconds_total"), undefined);
    assert.ok(value((await scrape(withDefaults.server)).samples, "process_cpu_user_seconds_total")! >= 0);
    const other = await fetch(`http://127.0.0.1:${plain.server.metricsAddress()!.port}/`);
    assert.equal(other.status, 404);
    await other.text();
  });

  it("metrics: true serves nothing itself; server.metrics() is a registry to mount in your own HTTP server", async () => {
    const { server, port } = await bed.start(app(), { metrics: true });
    assert.equal(server.metricsAddress(), null);
    const registry = await server.metrics();
    assert.equal(await server.metrics(), registry, "one registry per server");
    const http = createServer((_request, response) => {
      void registry.metrics().then((text) => response.writeHead(200, { "content-type": registry.contentType }).end(text));
    });
    http.listen(0, "127.0.0.1");
    await once(http, "listening");
    try {
      const client = await TextClient.connect(port);
      await client.command("get nothing");
      client.close();
      const text = await (await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`)).text();
      assert.equal(value(parseExposition(text).samples, "retopy_commands_total", { command: "get", outcome: "ok" }), 1);
    } finally {
      http.close();
    }
  });

  it("server.metrics() without the option rejects and names it; a bad metrics option throws at construction", async () => {
    const { server } = await bed.start(app());
    await assert.rejects(server.metrics(), /metrics are off/);
    assert.throws(() => new RetopyServer(app(), { logger: false, metrics: { port: 70000 } }), /metrics\.port must be a port number/);
    assert.throws(() => new RetopyServer(app(), { logger: false, metrics: "yes" as never }), /metrics must be true, false or/);
  });

  it("close() closes the metrics endpoint too", async () => {
    const running = await bed.start(app(), { metrics: { port: 0 } });
    const metricsPort = running.server.metricsAddress()!.port;
    await running.close();
    await assert.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`));
  });
});
