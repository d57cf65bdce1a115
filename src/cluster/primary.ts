/**
 * The primary of `retopy serve --workers N`: forks the workers through node:cluster, and does
 * what the cluster statechart (machines/cluster.machine.ts) decides: replaces crashed
 * workers, reloads them one at a time on SIGHUP, drains them all on SIGTERM/SIGINT. It never
 * loads the application module: a module's state and faults belong to the workers.
 *
 * It also answers the workers' `stats`/INFO: each request starts a collection, every live
 * worker reports, and a worker that does not answer within `statsTimeoutMs` keeps its
 * last-known row, marked stale.
 */
import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import { type Actor, createActor } from "xstate";
import { clusterMachine, workerRows } from "../../machines/cluster.machine.js";
import { LiveInspector } from "../inspect/live-inspector.js";
import type { InspectOptions } from "../inspect/options.js";
import { relayPubSub } from "../pubsub/cluster-primary.js";
import { IdBlocks } from "./id-blocks.js";
import { isMalformedToPrimary, isToPrimary, type ToPrimary, type ToWorker } from "./messages.js";

export type SchedulingPolicy = "rr" | "none";
export const SCHEDULING_POLICIES: readonly SchedulingPolicy[] = ["rr", "none"];

export interface PrimaryOptions {
  readonly workers: number;
  readonly schedule: SchedulingPolicy;
  /** What each worker's drain may take (`--shutdown-timeout`); past it plus a grace second, SIGKILL. */
  readonly shutdownTimeout: number;
  /** A worker not listening this long after its fork is killed (`--worker-start-timeout`): a module that hangs at load. */
  readonly startTimeout: number;
  readonly logger: Logger;
  /** The primary's live inspector (`--inspect`): it shows the cluster statechart. */
  readonly inspect?: InspectOptions | undefined;
  readonly statsTimeoutMs?: number | undefined;
  readonly crashLimit?: number | undefined;
  readonly crashWindowMs?: number | undefined;
}

/** Grace after the drain timeout before a worker that has not exited is killed. */
const KILL_GRACE_MS = 2000;
/**
 * In a reload, how long an old worker that stopped accepting waits before it drains: a
 * client it accepted just before has this long to send its first command (see ToWorker).
 */
const RELOAD_GRACE_MS = 250;

function sendTo(worker: Worker | undefined, message: ToWorker): void {
  if (worker?.isConnected()) worker.send(message, undefined, () => undefined);
}

interface Collection {
  readonly waiting: Set<number>;
  readonly done: () => void;
}

/** Runs the primary until the cluster stops; resolves with the exit code (0, or 1 after a failure or dropped commands). */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { logger } = options;
  // Must be set before the first fork; node:cluster reads it once.
  cluster.schedulingPolicy = options.schedule === "rr" ? cluster.SCHED_RR : cluster.SCHED_NONE;
  const inspection = options.inspect ? LiveInspector.fromOption(options.inspect, logger) : null;
  const actor: Actor<typeof clusterMachine> = createActor(clusterMachine, {
    id: "cluster",
    input: { size: options.workers, crashLimit: options.crashLimit, crashWindowMs: options.crashWindowMs },
    ...(inspection && { inspect: inspection.observe }),
  });
  if (inspection) {
    await inspection.start();
    if (inspection.url) process.stderr.write(`retopy: inspector at ${inspection.url} (open it in a browser)\n`);
  }
  const ids = new IdBlocks();
  // Pub/sub between the workers: each worker's default transport is the relay (src/cli.ts).
  const relay = relayPubSub(cluster);
  const timers = new Set<NodeJS.Timeout>();
  const collections = new Map<number, Collection>();
  let collects = 0;
  let port: number | null = null;
  /** Workers that said they listen: before that, a worker may not be reading its channel yet. */
  const listened = new Set<number>();
  /** Drains asked for while the worker was starting: sent when it listens. */
  const drainOnListening = new Set<number>();
  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  };

  const onMessage = (worker: Worker, message: ToPrimary) => {
    switch (message.retopy) {
      case "listening":
        listened.add(worker.id);
        if (drainOnListening.delete(worker.id)) sendTo(worker, { retopy: "drain", grace: 0 });
        port = message.port;
        logger.info({ worker: worker.id, workerPid: worker.process.pid, address: message.address, port: message.port }, "worker listening");
        actor.send({ type: "LISTENING", id: worker.id });
        break;
      case "ids":
        sendTo(worker, { retopy: "ids", ...ids.take() });
        break;
      case "report": {
        actor.send({ type: "REPORT", id: worker.id, report: { stats: message.stats, commands: message.commands } });
        const collection = collections.get(message.collect);
        if (collection?.waiting.delete(worker.id) && collection.waiting.size === 0) collection.done();
        break;
      }
      case "stats-request":
        collect(() => {
          const { context } = actor.getSnapshot();
          const uptimeSeconds = Math.floor(process.uptime());
          sendTo(worker, { retopy: "stats", request: message.request, uptimeSeconds, rows: workerRows(context), retired: context.retired });
        });
        break;
      case "reset-stats":
        for (const each of Object.values(cluster.workers ?? {})) sendTo(each, { retopy: "reset-stats" });
        break;
    }
  };

  /** Asks every live worker for its figures; `then` runs once all answered or time ran out. */
  const collect = (then: () => void) => {
    const id = ++collects;
    // A worker not listening yet may not be reading its channel: its row shows `starting`.
    const asked = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected() && listened.has(w.id));
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      collections.delete(id);
      const late = [...collection.waiting];
      if (late.length > 0) actor.send({ type: "STALE", ids: late });
      then();
    };
    const collection: Collection = { waiting: new Set(asked.map((w) => w.id)), done };
    collections.set(id, collection);
    const timer = setTimeout(done, options.statsTimeoutMs ?? 500);
    for (const worker of asked) sendTo(worker, { retopy: "collect", collect: id });
    if (asked.length === 0) done();
  };

  const fork = (replacing: number | null) => {
    const worker = cluster.fork();
    const pid = worker.process.pid ?? 0;
    logger.info({ worker: worker.id, workerPid: pid, ...(replacing !== null && { replacing }) }, "worker forked");
    worker.on("message", (message: unknown) => {
      if (isToPrimary(message)) onMessage(worker, message);
      else if (isMalformedToPrimary(message)) logger.warn({ worker: worker.id, kind: (message as { retopy: string }).retopy }, "ignored a malformed retopy IPC message from a worker");
    });
    worker.on("error", (error) => logger.warn({ err: error, worker: worker.id }, "worker channel error"));
    worker.on("exit", (code: number | null, signal: string | null) => {
      const state = actor.getSnapshot().context.workers[String(worker.id)]?.state;
      const fields = { worker: worker.id, workerPid: pid, code, signal };
      if (state === "draining") logger.info(fields, "worker exited");
      else logger.error(fields, "worker died");
      // Its part of any collection under way is not coming.
      for (const collection of collections.values()) if (collection.waiting.delete(worker.id) && collection.waiting.size === 0) collection.done();
      actor.send({ type: "EXITED", id: worker.id, code, signal, at: Date.now() });
    });
    actor.send({ type: "FORKED", id: worker.id, pid, replacing });
    const hung = setTimeout(() => {
      if (actor.getSnapshot().context.workers[String(worker.id)]?.state !== "starting") return;
      logger.error({ worker: worker.id, workerPid: pid, startTimeout: options.startTimeout }, "worker did not listen in time; killing it");
      worker.process.kill("SIGKILL");
    }, options.startTimeout);
    worker.once("exit", () => {
      clearTimeout(hung);
      listened.delete(worker.id);
      drainOnListening.delete(worker.id);
    });
    worker.once("listening", () => clearTimeout(hung));
  };

  actor.on("fork", ({ replacing, delayMs }) =>
    later(delayMs, () => {
      // A crash replacement still waiting when the cluster began to stop is not needed.
      const state = actor.getSnapshot();
      if (state.matches("stopping") || state.matches("failing") || state.status !== "active") return;
      fork(replacing);
    }),
  );
  actor.on("drain", ({ id, reload }) => {
    const worker = cluster.workers?.[id];
    // A message sent before the worker's handlers exist would be lost: it waits for "listening".
    if (listened.has(id)) sendTo(worker, { retopy: "drain", grace: reload ? RELOAD_GRACE_MS : 0 });
    else drainOnListening.add(id);
    const kill = setTimeout(() => {
      if (worker && !worker.isDead()) {
        logger.warn({ worker: id, workerPid: worker.process.pid }, "worker still running after the shutdown timeout; killing it");
        worker.process.kill("SIGKILL");
      }
    }, options.shutdownTimeout + KILL_GRACE_MS + (reload ? RELOAD_GRACE_MS : 0));
    worker?.once("exit", () => clearTimeout(kill));
  });
  actor.on("crashed", ({ id, pid, code, signal, crashes, backoffMs }) =>
    logger.error({ worker: id, workerPid: pid, code, signal, crashes, backoffMs }, "worker crashed; replacing it after a backoff"),
  );
  actor.on("reloadStarted", ({ workers }) => logger.info({ workers }, "reloading workers one at a time"));
  actor.on("reloaded", () => logger.info("reload done"));
  actor.on("reloadFailed", ({ id, old, code, signal }) =>
    logger.error({ worker: id, code, signal, kept: old }, "replacement worker exited before it listened; reload abandoned, keeping the old worker"),
  );
  actor.on("giveUp", ({ reason }) => logger.fatal(reason));

  let announced = false;
  const finished = new Promise<number>((resolve) => {
    actor.subscribe({
      next: (snapshot) => {
        if (!announced && snapshot.matches("running")) {
          announced = true;
          logger.info({ workers: options.workers, port, schedule: options.schedule }, "workers listening");
        }
        if (snapshot.status !== "done") return;
        for (const timer of timers) clearTimeout(timer);
        const failed = snapshot.value === "failed";
        resolve(failed || snapshot.context.uncleanStop ? 1 : 0);
      },
      error: (error) => {
        logger.fatal({ err: error }, "cluster supervisor failed");
        resolve(1);
      },
    });
  });

  let stopping = false;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal; killing the workers and exiting now");
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGKILL");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down: draining every worker");
    actor.send({ type: "SHUTDOWN" });
  };
  process.on("SIGINT", onStop);
  process.on("SIGTERM", onStop);
  process.on("SIGHUP", () => {
    const snapshot = actor.getSnapshot();
    if (snapshot.matches({ running: "reloading" })) logger.info("SIGHUP during a reload: queued, one more pass when this one ends");
    else if (!snapshot.matches({ running: "steady" })) logger.warn({ state: snapshot.value }, "SIGHUP ignored: the workers are not all running yet");
    actor.send({ type: "RELOAD" });
  });

  actor.start();
  const code = await finished;
  relay.close();
  logger.info({ code }, code === 0 ? "all workers stopped" : "cluster stopped with errors");
  await inspection?.close();
  return code;
}
