/**
 * The whole server's figures under `--workers`: every worker's report summed (totals), and
 * one row per worker, in the one `key=value,...` format `stats` and `INFO` both print.
 */
import type { CommandStatsEntry } from "../command-stats.js";
import { LatencyHistogram } from "../latency-histogram.js";
import type { ServerStats } from "../stats.js";
import type { WireCommandStats, WorkerReport, WorkerRowWire } from "./messages.js";

/** What `stats` and INFO print under `--workers`. */
export interface ClusterStats {
  /** The worker that answered (this connection's). */
  readonly workerId: number;
  /** Every worker summed, and the workers already gone as of their last report. */
  readonly totals: ServerStats;
  /** INFO commandstats and latencystats, summed over the workers (histograms merged). */
  readonly commands: readonly CommandStatsEntry[];
  /** One per live worker, by id. */
  readonly rows: readonly WorkerRowWire[];
}

/** A server's view of the cluster it is a worker of (`server.cluster`); null in a single process. */
export interface ClusterView {
  readonly workerId: number;
  /** Fresh figures from every worker; a worker that does not answer in time shows its last-known row, marked stale. */
  collect(): Promise<ClusterStats>;
  /** CONFIG RESETSTAT: every worker's per-command figures start again. */
  resetStats(): void;
}

export function toWireCommands(entries: readonly CommandStatsEntry[]): WireCommandStats[] {
  return entries.map((entry) => {
    const buckets: [number, number][] = [];
    entry.histogram.counts.forEach((count, bucket) => {
      if (count > 0) buckets.push([bucket, count]);
    });
    return { name: entry.name, calls: entry.calls, usec: entry.usec, rejectedCalls: entry.rejectedCalls, failedCalls: entry.failedCalls, buckets };
  });
}

const EMPTY: ServerStats = {
  uptimeSeconds: 0,
  connectionsCurrent: 0,
  connectionsTotal: 0,
  connectionsRejected: 0,
  commandsTotal: 0,
  errorsTotal: 0,
  commandCounts: {},
};

/** Two reports as one: counts added, histograms merged. `live` false counts no current connections (a worker that is gone). */
export function addReports(a: WorkerReport | null, b: WorkerReport, live = true): WorkerReport {
  const sa = a?.stats ?? EMPTY;
  const sb = b.stats;
  const commandCounts: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, sa.commandCounts);
  for (const [name, count] of Object.entries(sb.commandCounts)) commandCounts[name] = (Object.hasOwn(commandCounts, name) ? commandCounts[name]! : 0) + count;
  const stats: ServerStats = {
    uptimeSeconds: Math.max(sa.uptimeSeconds, sb.uptimeSeconds),
    connectionsCurrent: sa.connectionsCurrent + (live ? sb.connectionsCurrent : 0),
    connectionsTotal: sa.connectionsTotal + sb.connectionsTotal,
    connectionsRejected: sa.connectionsRejected + sb.connectionsRejected,
    commandsTotal: sa.commandsTotal + sb.commandsTotal,
    errorsTotal: sa.errorsTotal + sb.errorsTotal,
    commandCounts,
  };
  const byName = new Map<string, { calls: number; usec: number; rejectedCalls: number; failedCalls: number; buckets: Map<number, number> }>();
  for (const entry of [...(a?.commands ?? []), ...b.commands]) {
    let sum = byName.get(entry.name);
    if (!sum) byName.set(entry.name, (sum = { calls: 0, usec: 0, rejectedCalls: 0, failedCalls: 0, buckets: new Map() }));
    sum.calls += entry.calls;
    sum.usec += entry.usec;
    sum.rejectedCalls += entry.rejectedCalls;
    sum.failedCalls += entry.failedCalls;
    for (const [bucket, count] of entry.buckets) sum.buckets.set(bucket, (sum.buckets.get(bucket) ?? 0) + count);
  }
  const commands = [...byName].map(([name, sum]) => ({ name, calls: sum.calls, usec: sum.usec, rejectedCalls: sum.rejectedCalls, failedCalls: sum.failedCalls, buckets: [...sum.buckets] }));
  return { stats, commands };
}

/** The primary's answer as `stats` and INFO read it. */
export function clusterStats(workerId: number, uptimeSeconds: number, rows: readonly WorkerRowWire[], retired: WorkerReport | null): ClusterStats {
  let sum: WorkerReport | null = retired && addReports(null, retired, false);
  for (const row of rows) if (row.report) sum = addReports(sum, row.report);
  const totals = { ...(sum?.stats ?? EMPTY), uptimeSeconds };
  const commands = (sum?.commands ?? [])
    .map(toEntry)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { workerId, totals, commands, rows };
}

function toEntry(wire: WireCommandStats): CommandStatsEntry {
  const histogram = new LatencyHistogram();
  for (const [bucket, count] of wire.buckets) {
    if (bucket >= 0 && bucket < histogram.counts.length) {
      histogram.counts[bucket] = count;
      histogram.total += count;
    }
  }
  return {
    name: wire.name,
    calls: wire.calls,
    usec: wire.usec,
    rejectedCalls: wire.rejectedCalls,
    failedCalls: wire.failedCalls,
    percentiles: { p50: histogram.percentile(50), p99: histogram.percentile(99), p99_9: histogram.percentile(99.9) },
    histogram,
  };
}

/**
 * One worker as `key=value,...`, as Redis prints `slave0:` in INFO: the same text is the
 * value of `workerN` in `stats` and the line `workerN:...` in INFO's `# Workers` section.
 */
export function rowLine(row: WorkerRowWire): string {
  const s = row.report?.stats;
  return [
    `id=${row.id}`,
    `pid=${row.pid}`,
    `state=${row.state}`,
    `connections_current=${s?.connectionsCurrent ?? 0}`,
    `connections_total=${s?.connectionsTotal ?? 0}`,
    `connections_rejected=${s?.connectionsRejected ?? 0}`,
    `commands_total=${s?.commandsTotal ?? 0}`,
    `errors_total=${s?.errorsTotal ?? 0}`,
    `uptime_seconds=${s?.uptimeSeconds ?? 0}`,
    `stale=${row.stale || row.report === null ? 1 : 0}`,
  ].join(",");
}
