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

/** A message the primary side owns. */
export function isToPrimary(message: unknown): message is ToPrimary {
  const kind = kindOf(message);
  return kind !== null && TO_PRIMARY.has(kind);
}
