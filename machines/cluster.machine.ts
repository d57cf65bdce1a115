import { assign, enqueueActions, setup } from "xstate";
import type { WorkerReport, WorkerRowWire } from "../src/cluster/messages.js";
import { addReports } from "../src/cluster/stats-rows.js";

/**
 * The supervisor of `retopy serve --workers N`, in the primary process: it decides, the
 * primary does (src/cluster/primary.ts forks, signals and logs on what this machine emits).
 * No I/O and no clock: times arrive in the events.
 *
 * - `starting`: N workers are forked; once all listen, `running`. One that exits before it
 *   ever listened (a module that throws at load, a port in use) stops everything: forking it
 *   again would fail the same way (`failing`, then `failed`: exit 1).
 * - `running.steady`: a worker that exits unasked is a crash: it is replaced after a backoff
 *   that doubles with each crash in the window; more than `crashLimit` crashes within
 *   `crashWindowMs` is a crash loop (`failing`).
 * - `running.reloading` (SIGHUP): one worker at a time, fork its replacement, wait until it
 *   listens, then drain the old one. A RELOAD meanwhile is queued (one more pass when this
 *   one ends). A replacement that exits before it listens ends the reload: the old worker stays.
 * - `stopping` (SIGTERM/SIGINT): every worker drains; `stopped` when the last has exited.
 *
 * The context keeps one row per live worker (its state and last stats report), and what the
 * workers that are gone had counted (`retired`), for `stats` and INFO.
 */
export type WorkerState = "starting" | "listening" | "draining";

export interface WorkerEntry {
  readonly id: number;
  readonly pid: number;
  readonly state: WorkerState;
  /** Did not answer the last stats collection in time: `report` is older. */
  readonly stale: boolean;
  readonly report: WorkerReport | null;
}

export interface ReloadProgress {
  /** Old workers still to be replaced, in order. */
  readonly pending: readonly number[];
  /** The old worker being replaced now (null once it is gone by itself). */
  readonly old: number | null;
  /** Its replacement, once forked. */
  readonly replacement: number | null;
  /** A RELOAD came during this one: one more pass at the end. */
  readonly again: boolean;
}

export interface ClusterContext {
  /** Workers wanted. */
  readonly size: number;
  readonly crashLimit: number;
  readonly crashWindowMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Live workers by id. */
  readonly workers: Readonly<Record<string, WorkerEntry>>;
  /** When each crash within the window happened. */
  readonly crashes: readonly number[];
  readonly reload: ReloadProgress | null;
  readonly retired: WorkerReport | null;
  /** Why the cluster gave up (`failing`, `failed`). */
  readonly failure: string | null;
  /** A worker exited non-zero while stopping (commands dropped): exit 1. */
  readonly uncleanStop: boolean;
}

export interface ClusterInput {
  readonly size: number;
  readonly crashLimit?: number;
  readonly crashWindowMs?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
}

export type ClusterEvent =
  | { type: "FORKED"; id: number; pid: number; replacing: number | null }
  | { type: "LISTENING"; id: number }
  | { type: "EXITED"; id: number; code: number | null; signal: string | null; at: number }
  | { type: "REPORT"; id: number; report: WorkerReport }
  | { type: "STALE"; ids: readonly number[] }
  | { type: "RELOAD" }
  | { type: "SHUTDOWN" };

/** What the primary acts on. */
export type ClusterEmitted =
  | { type: "fork"; replacing: number | null; delayMs: number }
  /** `reload`: the worker is being replaced, not stopped with the rest. */
  | { type: "drain"; id: number; reload: boolean }
  | { type: "crashed"; id: number; pid: number; code: number | null; signal: string | null; crashes: number; backoffMs: number }
  | { type: "reloadStarted"; workers: readonly number[] }
  | { type: "reloadFailed"; id: number; old: number | null; code: number | null; signal: string | null }
  | { type: "reloaded" }
  | { type: "giveUp"; reason: string };

type Exited = Extract<ClusterEvent, { type: "EXITED" }>;

function withoutWorker(workers: ClusterContext["workers"], id: number): Record<string, WorkerEntry> {
  const rest = { ...workers };
  delete rest[String(id)];
  return rest;
}

function withWorker(workers: ClusterContext["workers"], entry: WorkerEntry): Record<string, WorkerEntry> {
  return { ...workers, [String(entry.id)]: entry };
}

function setState(workers: ClusterContext["workers"], id: number, state: WorkerState): Record<string, WorkerEntry> {
  const entry = workers[String(id)];
  return entry ? withWorker(workers, { ...entry, state }) : { ...workers };
}

function workerOf(context: ClusterContext, id: number): WorkerEntry | undefined {
  return context.workers[String(id)];
}

/** The rows `stats` and INFO print, by worker id. */
export function workerRows(context: ClusterContext): WorkerRowWire[] {
  return Object.values(context.workers)
    .sort((a, b) => a.id - b.id)
    .map(({ id, pid, state, stale, report }) => ({ id, pid, state, stale, report }));
}

/** The counts of a worker that is gone join the retired ones (merged by command: bounded however many workers come and go). */
function retire(context: ClusterContext, entry: WorkerEntry | undefined): WorkerReport | null {
  if (!entry?.report) return context.retired;
  return addReports(context.retired, entry.report, false);
}

/** An exit nobody asked for: the worker was neither draining nor stopped by the cluster. */
function isCrash(context: ClusterContext, event: Exited): boolean {
  const entry = workerOf(context, event.id);
  return entry !== undefined && entry.state !== "draining";
}

function recentCrashes(context: ClusterContext, at: number): number[] {
  return [...context.crashes.filter((t) => at - t < context.crashWindowMs), at];
}

export const clusterMachine = setup({
  types: {
    context: {} as ClusterContext,
    input: {} as ClusterInput,
    events: {} as ClusterEvent,
    emitted: {} as ClusterEmitted,
  },
  actions: {
    addWorker: assign(({ context, event }) => {
      if (event.type !== "FORKED") return {};
      return { workers: withWorker(context.workers, { id: event.id, pid: event.pid, state: "starting", stale: false, report: null }) };
    }),
    markListening: assign(({ context, event }) => (event.type === "LISTENING" && workerOf(context, event.id) ? { workers: setState(context.workers, event.id, "listening") } : {})),
    keepReport: assign(({ context, event }) => {
      if (event.type !== "REPORT") return {};
      const entry = workerOf(context, event.id);
      return entry ? { workers: withWorker(context.workers, { ...entry, report: event.report, stale: false }) } : {};
    }),
    markStale: assign(({ context, event }) => {
      if (event.type !== "STALE") return {};
      let workers = context.workers;
      for (const id of event.ids) {
        const entry = workerOf(context, id);
        if (entry) workers = withWorker(workers, { ...entry, stale: true });
      }
      return { workers };
    }),
    /** An exit: the row goes, its counts join the retired ones. */
    removeWorker: assign(({ context, event }) => {
      if (event.type !== "EXITED") return {};
      return { workers: withoutWorker(context.workers, event.id), retired: retire(context, workerOf(context, event.id)) };
    }),
    forkAll: enqueueActions(({ context, enqueue }) => {
      for (let i = 0; i < context.size; i++) enqueue.emit({ type: "fork", replacing: null, delayMs: 0 });
    }),
    drainAll: enqueueActions(({ context, enqueue }) => {
      for (const entry of Object.values(context.workers)) {
        if (entry.state !== "draining") enqueue.emit({ type: "drain", id: entry.id, reload: false });
      }
      let workers = context.workers;
      for (const entry of Object.values(context.workers)) workers = setState(workers, entry.id, "draining");
      enqueue.assign({ workers });
    }),
    /** A worker forked while stopping (its fork was already under way) drains at once. */
    drainForked: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "FORKED") return;
      enqueue.assign({ workers: withWorker(context.workers, { id: event.id, pid: event.pid, state: "draining", stale: false, report: null }) });
      enqueue.emit({ type: "drain", id: event.id, reload: false });
    }),
    noteUncleanExit: assign(({ context, event }) => (event.type === "EXITED" && event.code !== 0 ? { uncleanStop: true } : {})),
    /** A crash: log it, count it, replace the worker after a backoff. */
    replaceCrashed: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "EXITED") return;
      const entry = workerOf(context, event.id)!;
      const crashes = recentCrashes(context, event.at);
      const backoffMs = Math.min(context.backoffMaxMs, context.backoffBaseMs * 2 ** (crashes.length - 1));
      enqueue.assign({ crashes });
      enqueue.emit({ type: "crashed", id: entry.id, pid: entry.pid, code: event.code, signal: event.signal, crashes: crashes.length, backoffMs });
      // The old worker of a reload step that crashed: its replacement is already on the way.
      if (context.reload?.old === event.id) {
        enqueue.assign({ reload: { ...context.reload, old: null } });
        return;
      }
      enqueue.emit({ type: "fork", replacing: null, delayMs: backoffMs });
    }),
    giveUpBeforeListening: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "EXITED") return;
      const how = event.signal ? `signal ${event.signal}` : `code ${String(event.code)}`;
      const reason = `worker ${event.id} exited (${how}) before it ever listened; not forking it again`;
      enqueue.assign({ failure: reason });
      enqueue.emit({ type: "giveUp", reason });
    }),
    giveUpCrashLoop: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "EXITED") return;
      const crashes = recentCrashes(context, event.at);
      const reason = `crash loop: ${crashes.length} worker crashes within ${context.crashWindowMs} ms (limit ${context.crashLimit}); stopping`;
      enqueue.assign({ crashes, failure: reason });
      enqueue.emit({ type: "giveUp", reason });
    }),
    startReload: assign(({ context }) => ({
      reload: {
        pending: Object.values(context.workers)
          .filter((w) => w.state === "listening")
          .map((w) => w.id)
          .sort((a, b) => a - b),
        old: null,
        replacement: null,
        again: false,
      },
    })),
    announceReload: enqueueActions(({ context, enqueue }) => {
      if (context.reload) enqueue.emit({ type: "reloadStarted", workers: context.reload.pending });
    }),
    queueReload: assign(({ context }) => (context.reload ? { reload: { ...context.reload, again: true } } : {})),
    /** The next old worker (one still alive), or the end of the pass. */
    nextReloadStep: enqueueActions(({ context, enqueue }) => {
      const reload = context.reload;
      if (!reload) return;
      const pending = reload.pending.filter((id) => workerOf(context, id)?.state === "listening");
      const [old, ...rest] = pending;
      if (old === undefined) {
        if (reload.again) {
          const all = Object.values(context.workers)
            .filter((w) => w.state === "listening")
            .map((w) => w.id)
            .sort((a, b) => a - b);
          const [first, ...others] = all;
          if (first !== undefined) {
            enqueue.assign({ reload: { pending: others, old: first, replacement: null, again: false } });
            enqueue.emit({ type: "reloadStarted", workers: all });
            enqueue.emit({ type: "fork", replacing: first, delayMs: 0 });
            return;
          }
        }
        enqueue.assign({ reload: null });
        enqueue.emit({ type: "reloaded" });
        return;
      }
      enqueue.assign({ reload: { ...reload, pending: rest, old, replacement: null } });
      enqueue.emit({ type: "fork", replacing: old, delayMs: 0 });
    }),
    noteReplacement: assign(({ context, event }) => (event.type === "FORKED" && context.reload ? { reload: { ...context.reload, replacement: event.id } } : {})),
    /** The replacement listens: the old worker drains (or, gone already, the next step). */
    drainOld: enqueueActions(({ context, enqueue }) => {
      const old = context.reload?.old;
      if (old === null || old === undefined) return;
      enqueue.assign({ workers: setState(context.workers, old, "draining"), reload: { ...context.reload!, old, replacement: null } });
      enqueue.emit({ type: "drain", id: old, reload: true });
    }),
    abandonReload: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== "EXITED") return;
      enqueue.emit({ type: "reloadFailed", id: event.id, old: context.reload?.old ?? null, code: event.code, signal: event.signal });
      // The old worker crashed meanwhile and its replacement failed too: it is replaced as after a crash.
      if (context.reload?.old === null) enqueue.emit({ type: "fork", replacing: null, delayMs: context.backoffBaseMs });
      enqueue.assign({ reload: null });
    }),
  },
  guards: {
    allListening: ({ context }) => Object.values(context.workers).filter((w) => w.state === "listening").length >= context.size,
    neverListened: ({ context, event }) => event.type === "EXITED" && workerOf(context, event.id)?.state === "starting",
    isCrash: ({ context, event }) => event.type === "EXITED" && isCrash(context, event),
    crashLoop: ({ context, event }) => event.type === "EXITED" && isCrash(context, event) && recentCrashes(context, event.at).length > context.crashLimit,
    replacementListening: ({ context, event }) => event.type === "LISTENING" && context.reload !== null && context.reload.replacement === event.id,
    replacementListeningOldGone: ({ context, event }) =>
      event.type === "LISTENING" && context.reload !== null && context.reload.replacement === event.id && context.reload.old === null,
    isReloadOld: ({ context, event }) => event.type === "EXITED" && context.reload?.old === event.id && workerOf(context, event.id)?.state === "draining",
    replacementFailed: ({ context, event }) =>
      event.type === "EXITED" && context.reload?.replacement === event.id && workerOf(context, event.id)?.state === "starting",
    reloadDone: ({ context }) => context.reload === null,
    noWorkersLeft: ({ context }) => Object.keys(context.workers).length === 0,
  },
}).createMachine({
  id: "cluster",
  context: ({ input }) => ({
    size: input.size,
    crashLimit: input.crashLimit ?? 5,
    crashWindowMs: input.crashWindowMs ?? 60_000,
    backoffBaseMs: input.backoffBaseMs ?? 100,
    backoffMaxMs: input.backoffMaxMs ?? 10_000,
    workers: {},
    crashes: [],
    reload: null,
    retired: null,
    failure: null,
    uncleanStop: false,
  }),
  on: {
    REPORT: { actions: "keepReport" },
    STALE: { actions: "markStale" },
  },
  initial: "starting",
  states: {
    starting: {
      entry: "forkAll",
      always: { guard: "allListening", target: "running" },
      on: {
        SHUTDOWN: { target: "stopping" },
        FORKED: { actions: "addWorker" },
        LISTENING: { actions: "markListening" },
        EXITED: [
          { guard: "neverListened", target: "failing", actions: ["giveUpBeforeListening", "removeWorker"] },
          { guard: "crashLoop", target: "failing", actions: ["giveUpCrashLoop", "removeWorker"] },
          { guard: "isCrash", actions: ["replaceCrashed", "removeWorker"] },
          { actions: "removeWorker" },
        ],
      },
    },
    running: {
      initial: "steady",
      on: {
        SHUTDOWN: { target: "stopping" },
        FORKED: { actions: "addWorker" },
        LISTENING: { actions: "markListening" },
      },
      states: {
        steady: {
          on: {
            RELOAD: { target: "reloading", actions: ["startReload", "announceReload"] },
            EXITED: [
              { guard: "crashLoop", target: "#cluster.failing", actions: ["giveUpCrashLoop", "removeWorker"] },
              { guard: "isCrash", actions: ["replaceCrashed", "removeWorker"] },
              { actions: "removeWorker" },
            ],
          },
        },
        reloading: {
          entry: "nextReloadStep",
          always: { guard: "reloadDone", target: "steady" },
          on: {
            RELOAD: { actions: "queueReload" },
            FORKED: { actions: ["addWorker", "noteReplacement"] },
            LISTENING: [
              { guard: "replacementListeningOldGone", actions: ["markListening", "nextReloadStep"] },
              { guard: "replacementListening", actions: ["markListening", "drainOld"] },
              { actions: "markListening" },
            ],
            EXITED: [
              { guard: "replacementFailed", target: "steady", actions: ["abandonReload", "removeWorker"] },
              { guard: "isReloadOld", actions: ["removeWorker", "nextReloadStep"] },
              { guard: "crashLoop", target: "#cluster.failing", actions: ["giveUpCrashLoop", "removeWorker"] },
              { guard: "isCrash", actions: ["replaceCrashed", "removeWorker"] },
              { actions: "removeWorker" },
            ],
          },
        },
      },
    },
    stopping: {
      entry: "drainAll",
      always: { guard: "noWorkersLeft", target: "stopped" },
      on: {
        FORKED: { actions: "drainForked" },
        EXITED: { actions: ["noteUncleanExit", "removeWorker"] },
      },
    },
    stopped: { type: "final" },
    failing: {
      entry: "drainAll",
      always: { guard: "noWorkersLeft", target: "failed" },
      on: {
        FORKED: { actions: "drainForked" },
        EXITED: { actions: "removeWorker" },
      },
    },
    failed: { type: "final" },
  },
});

export type ClusterMachine = typeof clusterMachine;
