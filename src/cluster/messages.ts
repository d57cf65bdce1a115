/**
 * The messages retopy's cluster primary and its workers exchange over node:cluster's IPC
 * channel. Each is an object tagged `{ retopy: "<kind>" }`; the channel is shared with other
 * features (a pub/sub relay has kinds of its own), so each side acts on the kinds listed here
 * for it and ignores every other message.
 */
import type { ServerStats } from "../stats.js";

/** One command's figures as they cross the channel: the histogram as [bucket, count] pairs. */
export interface WireCommandStats {
  readonly name: string;
  readonly calls: number;
  readonly usec: number;
  readonly rejectedCalls: number;
  readonly failedCalls: number;
  readonly buckets: readonly (readonly [number, number])[];
}

/** What one worker reports of itself when asked. */
export interface WorkerReport {
  readonly stats: ServerStats;
  readonly commands: readonly WireCommandStats[];
}

/** Primary → worker. */
export type ToWorker =
  /** A block of client ids, [first, first + size): the answer to `ids`, and sent with the start. */
  | { readonly retopy: "ids"; readonly first: number; readonly size: number }
  /** Report your figures, quoting `collect`. */
  | { readonly retopy: "collect"; readonly collect: number }
  /** The answer to `stats-request`: every worker's row, fresh or last-known. */
  | {
      readonly retopy: "stats";
      readonly request: number;
      readonly uptimeSeconds: number;
      readonly rows: readonly WorkerRowWire[];
      /** What workers that are gone had counted, as of their last report. */
      readonly retired: WorkerReport | null;
    }
  /**
   * Stop accepting, finish what was received, exit (0 clean, 1 if commands were dropped).
   * `grace`: ms between no longer accepting and the drain (a reload: a client accepted just
   * before has time to send its first command, which is then answered, not cut).
   */
  | { readonly retopy: "drain"; readonly grace: number }
  /** CONFIG RESETSTAT on some worker: INFO's per-command figures start again, everywhere. */
  | { readonly retopy: "reset-stats" };

/** Worker → primary. */
export type ToPrimary =
  /** The worker's server is listening on `port`. */
  | { readonly retopy: "listening"; readonly port: number; readonly address: string }
  /** More client ids, please: the current block is half used. */
  | { readonly retopy: "ids" }
  /** A `stats` or INFO command wants the whole server's figures. */
  | { readonly retopy: "stats-request"; readonly request: number }
  /** The answer to `collect` (-1: unasked, the last one before a drained worker exits). */
  | ({ readonly retopy: "report"; readonly collect: number } & WorkerReport)
  /** CONFIG RESETSTAT ran here; pass it on to every worker. */
  | { readonly retopy: "reset-stats" };

/** A worker's row as the primary keeps it and sends it back (see src/cluster/stats-rows.ts). */
export interface WorkerRowWire {
  readonly id: number;
  readonly pid: number;
  readonly state: string;
  /** True when this worker did not answer the last collection in time: its figures are older. */
  readonly stale: boolean;
  readonly report: WorkerReport | null;
}

const TO_WORKER = new Set<string>(["ids", "collect", "stats", "drain", "reset-stats"]);
const TO_PRIMARY = new Set<string>(["listening", "ids", "stats-request", "report", "reset-stats"]);

function kindOf(message: unknown): string | null {
  if (typeof message !== "object" || message === null) return null;
  const kind = (message as { retopy?: unknown }).retopy;
  return typeof kind === "string" ? kind : null;
}

/** A message the worker side owns; anything else on the channel is someone else's. */
export function isToWorker(message: unknown): message is ToWorker {
  const kind = kindOf(message);
  return kind !== null && TO_WORKER.has(kind);
}

/**
 * A message the primary side owns, in the shape of its kind. The channel is open to the
 * application's own code in a worker (`process.send`): a tagged message of the wrong shape
 * must be ignored, not throw in the primary (which would end every worker with it) nor
 * poison the figures every worker's `stats` sums.
 */
export function isToPrimary(message: unknown): message is ToPrimary {
  const kind = kindOf(message);
  if (kind === null || !TO_PRIMARY.has(kind)) return false;
  const m = message as Record<string, unknown>;
  switch (kind) {
    case "listening":
      return isNumber(m.port) && typeof m.address === "string";
    case "stats-request":
      return isNumber(m.request);
    case "report":
      return isNumber(m.collect) && isReport(m);
    default:
      return true; // "ids", "reset-stats": the tag is the whole message
  }
}

/** A tagged message the primary owns that failed its shape check (worth a warning). */
export function isMalformedToPrimary(message: unknown): boolean {
  const kind = kindOf(message);
  return kind !== null && TO_PRIMARY.has(kind) && !isToPrimary(message);
}

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

const STATS_FIELDS = ["uptimeSeconds", "connectionsCurrent", "connectionsTotal", "connectionsRejected", "commandsTotal", "errorsTotal"] as const;
const COMMAND_FIELDS = ["calls", "usec", "rejectedCalls", "failedCalls"] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isReport(m: Record<string, unknown>): boolean {
  const { stats, commands } = m;
  if (!isRecord(stats) || !STATS_FIELDS.every((field) => isNumber(stats[field]))) return false;
  if (!isRecord(stats.commandCounts) || !Object.values(stats.commandCounts).every(isNumber)) return false;
  return (
    Array.isArray(commands) &&
    commands.every(
      (entry: unknown) =>
        isRecord(entry) &&
        typeof entry.name === "string" &&
        COMMAND_FIELDS.every((field) => isNumber(entry[field])) &&
        Array.isArray(entry.buckets) &&
        entry.buckets.every((pair: unknown) => Array.isArray(pair) && pair.length === 2 && isNumber(pair[0]) && isNumber(pair[1])),
    )
  );
}
