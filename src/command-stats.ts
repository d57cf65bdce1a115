/**
 * Per-command calls, time and latency percentiles: what Redis 7 reports in `INFO commandstats`
 * and `INFO latencystats`, and what the Prometheus metrics read at each scrape.
 *
 * Kept by the server in plain arrays indexed by the command's slot: recording a reply is a few
 * array writes, with no event, allocation or map lookup (the supervisor's counters stay
 * batched in src/stats.ts).
 */
import { LatencyHistogram } from "./latency-histogram.js";
import { performance } from "node:perf_hooks";

/** What counting needs of a mounted command (a `CommandDefinition` is one). */
export interface CountedCommand {
  readonly name: string;
  /** Small integer unique in its application: the index of its counter. */
  readonly slot: number;
}

/**
 * How a command ended, with Redis's meaning: `rejected` never ran (unknown arguments, a
 * login required, a `preCommand` hook that refused it), `error` ran and replied with an
 * error, `ok` ran and replied with anything else.
 */
export type CommandOutcome = "ok" | "error" | "rejected";

/** One command's figures, as `INFO commandstats` and `latencystats` print them. */
export interface CommandStatsEntry {
  readonly name: string;
  /** Runs that reached the command (failed ones included, rejected ones not), as Redis counts `calls`. */
  readonly calls: number;
  /** Microseconds the calls took in all, from the command's start to its reply being encoded. */
  readonly usec: number;
  readonly rejectedCalls: number;
  readonly failedCalls: number;
  /** Latency of the calls in microseconds (as Redis, rejected ones not included): p50, p99 and p99.9. */
  readonly percentiles: { readonly p50: number; readonly p99: number; readonly p99_9: number };
  /** @internal The histogram itself, for the Prometheus buckets. */
  readonly histogram: LatencyHistogram;
}

/**
 * When the command that is running now started (`performance.now()`), shared by every
 * runner: a synchronous command starts and replies with nothing in between, and a runner
 * whose command goes async keeps its start and puts it back before the reply. A runner sets
 * it when it starts on a batch (or resumes one), and each reply recorded moves it on, so the
 * next command of the batch starts where this one ended: one clock read per command (the
 * clock and the global `performance` lookup were 3-4% of perf samples at -P 16 with two).
 * A double kept in an object field or passed to a function is boxed (a heap number per
 * command, measured with --trace-gc); a typed array's element is not.
 */
export const commandClock = new Float64Array(1);

class Entry {
  calls = 0;
  usec = 0;
  rejected = 0;
  failed = 0;
  readonly histogram = new LatencyHistogram();
  constructor(readonly command: CountedCommand) {}
}

/** An entry's figures at the last `CONFIG RESETSTAT`. */
interface Baseline {
  readonly calls: number;
  readonly usec: number;
  readonly rejected: number;
  readonly failed: number;
  readonly counts: Float64Array;
  readonly total: number;
}

export class CommandStats {
  readonly #entries: (Entry | undefined)[] = [];
  /**
   * What each entry held at the last reset. INFO reports what came since; the Prometheus
   * counters read the running totals, which never go down (a scrape after a reset is no restart).
   */
  #baseline: (Baseline | undefined)[] = [];

  /** One reply of `command`, which started at `commandClock[0]`. */
  record(command: CountedCommand, outcome: CommandOutcome): void {
    const now = performance.now();
    const micros = (now - commandClock[0]!) * 1000;
    commandClock[0] = now;
    const entries = this.#entries;
    const entry = entries[command.slot] ?? (entries[command.slot] = new Entry(command));
    if (outcome === "rejected") entry.rejected++;
    else {
      entry.calls++;
      entry.usec += micros;
      if (outcome === "error") entry.failed++;
      entry.histogram.record(micros);
    }
  }

  /**
   * Every command that was called, by name: since the start (`sinceReset` false, what the
   * metrics read) or since the last `CONFIG RESETSTAT` (INFO; commands not called since are left out).
   */
  read(sinceReset: boolean): CommandStatsEntry[] {
    const byName: CommandStatsEntry[] = [];
    this.#entries.forEach((entry, slot) => {
      if (!entry) return;
      const base = sinceReset ? this.#baseline[slot] : undefined;
      let h = entry.histogram;
      if (base) {
        if (entry.calls === base.calls && entry.rejected === base.rejected) return;
        h = new LatencyHistogram();
        h.counts.set(entry.histogram.counts.map((count, i) => count - base.counts[i]!));
        h.total = entry.histogram.total - base.total;
      }
      byName.push({
        name: entry.command.name,
        calls: entry.calls - (base?.calls ?? 0),
        usec: entry.usec - (base?.usec ?? 0),
        rejectedCalls: entry.rejected - (base?.rejected ?? 0),
        failedCalls: entry.failed - (base?.failed ?? 0),
        percentiles: { p50: h.percentile(50), p99: h.percentile(99), p99_9: h.percentile(99.9) },
        histogram: h,
      });
    });
    return byName.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** `CONFIG RESETSTAT`: INFO's figures start again from zero. */
  reset(): void {
    this.#baseline = this.#entries.map((entry) =>
      entry && { calls: entry.calls, usec: entry.usec, rejected: entry.rejected, failed: entry.failed, counts: entry.histogram.counts.slice(), total: entry.histogram.total },
    );
  }
}
