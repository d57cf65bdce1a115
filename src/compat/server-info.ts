/**
 * The server-wide replies of CONFIG GET and INFO: the few settings Redis tools ask for, and
 * Redis's INFO text filled with the server's counters.
 */
import { arch, release, type } from "node:os";
import { GlobPattern } from "../glob.js";
import type { ReplyValue } from "../reply.js";
import type { ServerStats } from "../stats.js";
import type { CommandStatsEntry } from "../command-stats.js";
import { retopyVersion } from "../version.js";
import { asciiLowerCase } from "../client-text.js";
import { type ClusterStats, rowLine } from "../cluster/stats-rows.js";

/** What `INFO` reports as `redis_version`: the Redis release whose commands these mimic. */
const REDIS_VERSION = "7.0.0";

/** The settings CONFIG GET knows: what redis-benchmark and admin tools ask for. */
const CONFIG_VALUES: ReadonlyMap<string, string> = new Map([
  ["save", ""],
  ["appendonly", "no"],
  ["databases", "1"],
]);

/** CONFIG GET's map: each name as given (lowercased), or every known setting a glob matches. */
export function configGet(patterns: readonly string[]): Map<string, ReplyValue> {
  const reply = new Map<string, ReplyValue>();
  for (const pattern of patterns) {
    const known = CONFIG_VALUES.get(asciiLowerCase(pattern));
    if (known !== undefined) {
      reply.set(asciiLowerCase(pattern), known);
      continue;
    }
    const glob = new GlobPattern(pattern, { nocase: true });
    for (const [key, value] of CONFIG_VALUES) if (glob.matches(key)) reply.set(key, value);
  }
  return reply;
}

/**
 * INFO's text for the sections asked for (none: the default ones), `\r\n` line ends. Without
 * `details`, nothing that describes the process itself: os, Node version, pid, memory.
 */
export function infoText(
  stats: ServerStats,
  commands: readonly CommandStatsEntry[],
  sectionNames: readonly string[],
  details: boolean,
  cluster?: ClusterStats,
): string {
  const wanted = new Set(sectionNames.map(asciiLowerCase));
  const everything = wanted.has("all") || wanted.has("everything");
  const byDefault = wanted.size === 0 || wanted.has("default") || everything;
  const sections: [string, boolean, () => string[]][] = [
    [
      "Server",
      true,
      () => [
        `redis_version:${REDIS_VERSION}`,
        `retopy_version:${retopyVersion()}`,
        "redis_mode:standalone",
        ...(details
          ? [`os:${type()} ${release()} ${arch()}`, `arch_bits:${/64/.test(arch()) ? 64 : 32}`, `node_version:${process.versions.node}`, `process_id:${process.pid}`]
          : []),
        `uptime_in_seconds:${stats.uptimeSeconds}`,
        `uptime_in_days:${Math.floor(stats.uptimeSeconds / 86400)}`,
      ],
    ],
    ["Clients", true, () => [`connected_clients:${stats.connectionsCurrent}`]],
    [
      "Memory",
      true,
      () => {
        if (!details) return [];
        const memory = process.memoryUsage();
        return [`used_memory:${memory.heapUsed}`, `used_memory_rss:${memory.rss}`];
      },
    ],
    ["Persistence", true, () => ["loading:0"]],
    [
      "Stats",
      true,
      () => [
        `total_connections_received:${stats.connectionsTotal}`,
        `total_commands_processed:${stats.commandsTotal}`,
        `rejected_connections:${stats.connectionsRejected}`,
        `total_error_replies:${stats.errorsTotal}`,
      ],
    ],
    ["Replication", true, () => ["role:master", "connected_slaves:0"]],
    [
      "Commandstats",
      false,
      () => commands.map((c) => `cmdstat_${safeInfoName(c.name)}:${commandStatsFields(c)}`),
    ],
    [
      "Latencystats",
      false,
      () =>
        commands
          .filter((c) => c.calls > 0)
          .map(({ name, percentiles: p }) => `latency_percentiles_usec_${safeInfoName(name)}:p50=${usec(p.p50)},p99=${usec(p.p99)},p99.9=${usec(p.p99_9)}`),
    ],
    ["Keyspace", true, () => []],
  ];
  // Under --workers: one `workerN:key=value,...` line per worker, as Redis lists `slaveN:`.
  if (cluster) {
    sections.push([
      "Workers",
      true,
      () => [`workers:${cluster.rows.length}`, `worker_id:${cluster.workerId}`, ...cluster.rows.map((row) => `worker${row.id}:${rowLine(row)}`)],
    ]);
  }
  const blocks: string[] = [];
  for (const [title, inDefault, lines] of sections) {
    if (!(wanted.has(title.toLowerCase()) || (inDefault ? byDefault : everything))) continue;
    blocks.push([`# ${title}`, ...lines()].map((line) => `${line}\r\n`).join(""));
  }
  return blocks.join("\r\n");
}

/** Redis 7's fields: calls that ran (failed ones included), their time, and the rejected ones apart. */
function commandStatsFields(c: CommandStatsEntry): string {
  const perCall = c.calls === 0 ? 0 : c.usec / c.calls;
  return `calls=${c.calls},usec=${Math.round(c.usec)},usec_per_call=${perCall.toFixed(2)},rejected_calls=${c.rejectedCalls},failed_calls=${c.failedCalls}`;
}

/** A latency in microseconds as Redis prints it: three decimals. */
function usec(micros: number): string {
  return micros.toFixed(3);
}

/**
 * A command's name as an INFO field name: a mounted name may hold ':' (`ns:get`), which would
 * end the field name early for every INFO parser (`key:value`). Redis's getSafeInfoString
 * makes the same characters '_'.
 */
function safeInfoName(name: string): string {
  return name.replace(/[#:\r\n]/g, "_");
}
