/**
 * The worker side of `retopy serve --workers`: the serve path runs as in a single process,
 * and this joins its server to the primary over the IPC channel: CLIENT IDs from the
 * primary's blocks, `stats`/INFO answered for the whole server, a drain on request.
 *
 * When the channel closes (the primary is gone, even by SIGKILL), node:cluster ends the worker
 * at once: no worker outlives its primary.
 */
import cluster from "node:cluster";
import type { RetopyServer } from "../server.js";
import { ClientIdSource } from "./id-blocks.js";
import { isToWorker, type ToPrimary, type ToWorker, type WorkerReport } from "./messages.js";
import { type ClusterStats, type ClusterView, clusterStats, toWireCommands } from "./stats-rows.js";

/** How long `stats` waits for the primary's answer before it shows this worker alone. */
const STATS_ANSWER_TIMEOUT_MS = 2000;
/** How long the first block of ids may take; the worker is not listening yet. */
const FIRST_IDS_TIMEOUT_MS = 10_000;

/** This process's worker id, or null when it is not a node:cluster worker. */
export function clusterWorkerId(): number | null {
  return cluster.isWorker && cluster.worker ? cluster.worker.id : null;
}

function send(message: ToPrimary, done?: () => void): void {
  if (!process.connected || !process.send) {
    done?.();
    return;
  }
  process.send(message, undefined, {}, () => done?.());
}

/**
 * Joins `server` (made, not yet listening) to the primary; resolves once the first block of
 * ids is here. `shutdown` drains the server and exits, as SIGTERM does in a single process.
 */
export async function joinCluster(server: RetopyServer, shutdown: () => void): Promise<ClusterMember> {
  const workerId = clusterWorkerId();
  if (workerId === null) throw new Error("joinCluster runs in a node:cluster worker only");
  const ids = new ClientIdSource(() => send({ retopy: "ids" }), workerId);
  let requests = 0;
  const waiting = new Map<number, (stats: ClusterStats) => void>();
  const local = (): WorkerReport => ({ stats: info.stats(), commands: toWireCommands(info.commandStats()) });

  // One request at a time: `stats` pipelined by the thousand must not become thousands of
  // collections over every worker: the ones that come meanwhile share the answer under way.
  let inflight: Promise<ClusterStats> | null = null;
  const view: ClusterView = {
    workerId,
    collect: () => (inflight ??= ask().finally(() => (inflight = null))),
    resetStats: () => send({ retopy: "reset-stats" }),
  };
  const ask = (): Promise<ClusterStats> =>
    new Promise<ClusterStats>((resolve) => {
      const request = ++requests;
      // The primary gone or slow: this worker's own row, marked stale for want of the rest.
      const timer = setTimeout(() => {
        waiting.delete(request);
        resolve(clusterStats(workerId, info.stats().uptimeSeconds, [{ id: workerId, pid: process.pid, state: "listening", stale: true, report: local() }], null));
      }, STATS_ANSWER_TIMEOUT_MS);
      waiting.set(request, (stats) => {
        clearTimeout(timer);
        resolve(stats);
      });
      send({ retopy: "stats-request", request });
    });

  let firstIds: () => void = () => undefined;
  const first = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cluster primary sent no client ids within ${FIRST_IDS_TIMEOUT_MS} ms`)), FIRST_IDS_TIMEOUT_MS);
    firstIds = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  process.on("message", (message: unknown) => {
    if (!isToWorker(message)) return; // another feature's message
    switch (message.retopy) {
      case "ids":
        ids.add(message);
        firstIds();
        break;
      case "collect":
        send({ retopy: "report", collect: message.collect, ...local() });
        break;
      case "stats": {
        const answer = waiting.get(message.request);
        waiting.delete(message.request);
        answer?.(clusterStats(workerId, message.uptimeSeconds, message.rows, message.retired));
        break;
      }
      case "drain":
        if (message.grace <= 0) shutdown();
        else {
          server._stopAccepting();
          setTimeout(shutdown, message.grace);
        }
        break;
      case "reset-stats":
        info.resetStats();
        break;
    }
  });
  const info = server._joinCluster(view, () => ids.next());
  send({ retopy: "ids" });
  await first;
  return {
    announceListening: (port, address) => send({ retopy: "listening", port, address }),
    finalReport: (done) => send({ retopy: "report", collect: -1, ...local() }, done),
  };
}

/** What the serve path tells the primary. */
export interface ClusterMember {
  /** The server listens; after `listen()` resolved. */
  announceListening(port: number, address: string): void;
  /** The last report before a drained worker exits, so the whole server's totals keep its counts; `done` once it is sent. */
  finalReport(done: () => void): void;
}

