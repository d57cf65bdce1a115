import type { ActorRefFrom } from "xstate";
import type { supervisorMachine } from "../machines/supervisor.machine.js";
import { type CommandOutcome, CommandStats, type CountedCommand } from "./command-stats.js";

export type { CountedCommand } from "./command-stats.js";


/** What `stats` reports, read from the supervisor actor. */
export interface ServerStats {
  readonly uptimeSeconds: number;
  readonly connectionsCurrent: number;
  readonly connectionsTotal: number;
  /** Clients turned away before becoming connections: at `maxConnections`, or (with `proxyProtocol`) without a valid PROXY header. */
  readonly connectionsRejected: number;
  readonly commandsTotal: number;
  readonly errorsTotal: number;
  /** Runs per mounted command, failed runs included; unknown commands are not counted here. */
  readonly commandCounts: Readonly<Record<string, number>>;
}

/** How long counts may wait before they reach the supervisor (reads flush at once). */
const FLUSH_INTERVAL_MS = 250;

/**
 * Collects command counts from every connection and hands them to the supervisor in
 * batches. Counting is an array increment on the hot path; the XState event (about 1.5 µs)
 * is paid at most once per interval for the whole server, and `read()` flushes first, so
 * `stats`, INFO and `server.stats()` are always exact.
 */
export class StatsBuffer {
  readonly #supervisor: ActorRefFrom<typeof supervisorMachine>;
  /** Runs per command, indexed by `CountedCommand.slot`. */
  #counts: number[] = [];
  #counted: (CountedCommand | undefined)[] = [];
  #total = 0;
  #errors = 0;
  #timer: NodeJS.Timeout | null = null;
  /** Set for the server's shutdown: every count goes to the supervisor at once. */
  #eachCount = false;

  /** Per-command calls, time and latency (INFO commandstats, latencystats, the metrics). */
  readonly commands = new CommandStats();

  constructor(supervisor: ActorRefFrom<typeof supervisorMachine>) {
    this.#supervisor = supervisor;
  }

  /** One reply of a mounted command (started at `commandClock[0]`); any outcome but `ok` counts as an error. */
  countCommand(definition: CountedCommand, outcome: CommandOutcome): void {
    this.commands.record(definition, outcome);
    const slot = definition.slot;
    const count = this.#counts[slot];
    if (count === undefined) {
      this.#counts[slot] = 1;
      this.#counted[slot] = definition;
    } else this.#counts[slot] = count + 1;
    this.#total++;
    if (outcome !== "ok") this.#errors++;
    if (this.#eachCount) this.flush();
    else this.#timer ??= this.#schedule();
  }

  /** An error reply that belongs to no mounted command (unknown command, protocol error). */
  countError(): void {
    this.#errors++;
    if (this.#eachCount) this.flush();
    else this.#timer ??= this.#schedule();
  }

  /**
   * From now on each count is sent at once, and what is pending goes now. For the shutdown:
   * the supervisor stops as the last connection closes, and takes no counts after that.
   */
  flushEachCount(): void {
    this.#eachCount = true;
    this.flush();
  }

  /** Sends what is pending now; `stats` calls it so its own numbers are current. */
  flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#total === 0 && this.#errors === 0) return;
    const byName = new Map<string, number>();
    this.#counts.forEach((count, slot) => {
      const name = this.#counted[slot]!.name;
      byName.set(name, (byName.get(name) ?? 0) + count);
    });
    // Object.fromEntries: a command may be called `__proto__`, which an assignment would eat.
    const counts = Object.fromEntries(byName);
    const total = this.#total;
    const errors = this.#errors;
    this.#counts = [];
    this.#counted = [];
    this.#total = 0;
    this.#errors = 0;
    if (this.#supervisor.getSnapshot().status === "active") {
      this.#supervisor.send({ type: "COMMANDS_COUNTED", counts, total, errors });
    }
  }

  /** Reads the supervisor's counters, after flushing what is pending. */
  read(): ServerStats {
    this.flush();
    const context = this.#supervisor.getSnapshot().context;
    return {
      uptimeSeconds: Math.floor((Date.now() - context.startedAt) / 1000),
      connectionsCurrent: context.connectionsCurrent,
      connectionsTotal: context.connectionsTotal,
      connectionsRejected: context.connectionsRejected,
      commandsTotal: context.commandsTotal,
      errorsTotal: context.errorsTotal,
      commandCounts: context.commandCounts,
    };
  }

  #schedule(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timer = null;
      this.flush();
    }, FLUSH_INTERVAL_MS);
    // Never keep the process alive just to deliver counters.
    timer.unref();
    return timer;
  }
}
