/**
 * The `metrics` server option and what `server.metrics()` gives, apart from src/metrics.ts:
 * the public types must not name prom-client, an optional peer dependency a consumer may
 * not have installed (its declarations would not resolve under `skipLibCheck: false`).
 */
import { RetopyError } from "./errors.js";

/** The `metrics` server option. */
export interface MetricsOptions {
  /**
   * Serve `GET /metrics` on this port (0: any free one) when the server listens. Without it
   * no HTTP server is started: mount `await server.metrics()` in your own.
   */
  port?: number | undefined;
  /** Address of the metrics endpoint (default 127.0.0.1: metrics are for the operator, not the world). */
  host?: string | undefined;
  /** Also export prom-client's default process metrics (CPU, memory, event loop lag, GC); default false. */
  defaultMetrics?: boolean | undefined;
}

/**
 * The metrics registry `server.metrics()` resolves: prom-client's `Registry`, typed here by
 * what mounting it needs (cast it to prom-client's `Registry` for the rest).
 */
export interface MetricsRegistry {
  /** The exposition text of every metric. */
  metrics(): Promise<string>;
  /** The Content-Type to serve it with. */
  readonly contentType: string;
}

/** Checks the `metrics` option when the server is made. */
export function checkMetricsOptions(option: boolean | MetricsOptions | undefined): MetricsOptions | null {
  if (option === undefined || option === false) return null;
  if (option === true) return {};
  if (typeof option !== "object" || option === null) throw new RetopyError("RETOPY_INVALID_OPTION", "metrics must be true, false or { port, host, defaultMetrics }");
  const { port, host } = option;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new RetopyError("RETOPY_INVALID_OPTION", `metrics.port must be a port number from 0 to 65535, not '${String(port)}'`);
  }
  if (host !== undefined && typeof host !== "string") throw new RetopyError("RETOPY_INVALID_OPTION", "metrics.host must be a string");
  return option;
}

