/**
 * Prometheus metrics through `prom-client`, an optional peer dependency loaded only when
 * metrics are asked for. Every figure is read at scrape time from what the server keeps
 * anyway (src/command-stats.ts, the connection registry, the sockets' byte counts): turning
 * metrics on adds nothing to a command's path.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type * as PromClient from "prom-client";
import type { CommandStatsEntry } from "./command-stats.js";
import type { MetricsOptions, MetricsRegistry } from "./metrics-options.js";
import { importOptional } from "./optional-peer.js";
import { bucketLowerBound } from "./latency-histogram.js";

/** What the metrics read from the server at each scrape. */
export interface MetricsSource {
  /** Per-command figures since the server started (never reset by CONFIG RESETSTAT). */
  commandStats(): readonly CommandStatsEntry[];
  /** Open connections by the statechart state they are in. */
  connectionStates(): ReadonlyMap<string, number>;
  bytes(): { readonly received: number; readonly sent: number };
  /** Clients turned away before becoming connections, by reason. */
  rejections(): ReadonlyMap<string, number>;
  /** Connections closed, by close reason. */
  closes(): ReadonlyMap<string, number>;
}

/** The connection statechart's states a live connection can be in (machines/connection.machine.ts). */
export const CONNECTION_STATES = ["header", "reading", "paused", "afterQueue", "afterReply", "lingering"] as const;

/**
 * The duration histogram's bounds: powers of 4 µs from 1 µs to about 16.8 s. Each is a bucket
 * boundary of the latency histogram, so the Prometheus buckets are exact sums of its buckets.
 */
const BOUNDS_MICROS = Array.from({ length: 13 }, (_, i) => 4 ** i);

type Prom = typeof PromClient;

/** Loads prom-client, or says which package is missing (`RETOPY_MISSING_PEER`). */
async function loadPromClient(): Promise<Prom> {
  const loaded = (await importOptional("the metrics option", ["prom-client"], () => import("prom-client"))) as Prom & { default?: Prom };
  // prom-client is CommonJS: its exports arrive as named exports or as `default`.
  return typeof loaded.Registry === "function" ? loaded : loaded.default!;
}

/** Makes the registry of one server's metrics. */
export async function createMetricsRegistry(source: MetricsSource, options: MetricsOptions): Promise<PromClient.Registry> {
  const prom = await loadPromClient();
  const registry = new prom.Registry();
  new prom.Counter({
    name: "retopy_commands_total",
    help: "Commands replied to, by command and outcome (ok, error: ran and failed, rejected: never ran).",
    labelNames: ["command", "outcome"],
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of source.commandStats()) {
        this.inc({ command: entry.name, outcome: "ok" }, entry.calls - entry.failedCalls);
        this.inc({ command: entry.name, outcome: "error" }, entry.failedCalls);
        this.inc({ command: entry.name, outcome: "rejected" }, entry.rejectedCalls);
      }
    },
  });
  registry.registerMetric(durationHistogram(source) as unknown as PromClient.Metric);
  new prom.Gauge({
    name: "retopy_connections",
    help: "Open connections by the state of their statechart.",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const states = source.connectionStates();
      for (const state of CONNECTION_STATES) this.set({ state }, states.get(state) ?? 0);
    },
  });
  new prom.Counter({
    name: "retopy_received_bytes_total",
    help: "Bytes read from clients.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.bytes().received);
    },
  });
  new prom.Counter({
    name: "retopy_sent_bytes_total",
    help: "Bytes written to clients.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(source.bytes().sent);
    },
  });
  new prom.Counter({
    name: "retopy_connections_rejected_total",
    help: "Clients turned away before becoming connections, by reason (max_connections, proxy_protocol).",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ reason: "max_connections" }, 0);
      for (const [reason, count] of source.rejections()) this.inc({ reason }, count);
    },
  });
  new prom.Counter({
    name: "retopy_connections_closed_total",
    help: "Connections closed, by reason (client_closed, quit, idle_timeout, output_limit, ...).",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of source.closes()) this.inc({ reason }, count);
    },
  });
  if (options.defaultMetrics === true) prom.collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * `retopy_command_duration_seconds`, built from the latency histograms at each scrape:
 * prom-client's own Histogram would cost each command an observation.
 */
function durationHistogram(source: MetricsSource) {
  const name = "retopy_command_duration_seconds";
  const help = "Time from a command's lookup to its reply being encoded, by command (rejected commands not included).";
  return {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const entry of source.commandStats()) {
        const h = entry.histogram;
        for (const micros of BOUNDS_MICROS) {
          values.push({ labels: { le: micros / 1e6, command: entry.name }, value: h.countBelow(micros), metricName: `${name}_bucket` });
        }
        values.push({ labels: { le: "+Inf", command: entry.name }, value: h.total, metricName: `${name}_bucket` });
        values.push({ labels: { command: entry.name }, value: entry.usec / 1e6, metricName: `${name}_sum` });
        values.push({ labels: { command: entry.name }, value: h.total, metricName: `${name}_count` });
      }
      return { name, help, type: "histogram", aggregator: "sum", values };
    },
  };
}

/** `GET /metrics` over HTTP; anything else is a 404. Resolves once listening. */
export function serveMetrics(registry: MetricsRegistry, port: number, host: string, logger: Logger): Promise<Server> {
  const http = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: metrics are at GET /metrics\n");
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": registry.contentType }).end(request.method === "HEAD" ? undefined : text),
      (error: unknown) => {
        logger.error({ err: error }, "metrics collection failed");
        response.writeHead(500, { "content-type": "text/plain" }).end("metrics collection failed\n");
      },
    );
  });
  return new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, host, () => {
      http.off("error", reject);
      http.on("error", (error) => logger.error({ err: error }, "metrics server error"));
      const address = http.address() as AddressInfo;
      logger.info({ address: address.address, port: address.port }, "metrics listening");
      resolve(http);
    });
  });
}
