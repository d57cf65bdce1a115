/**
 * The cluster relay, primary side: `relayPubSub(cluster)`, called once in the node:cluster
 * primary. It keeps, per worker, how many connections listen to each channel and pattern,
 * passes each publish to the workers with a receiver for it (the publishing one included:
 * one order for all), and answers PUBLISH's
 * receiver count and PUBSUB CHANNELS/NUMSUB/NUMPAT for the whole machine. A worker that
 * exits takes its subscriptions with it.
 *
 * IPC messages not tagged `pubsub:` belong to someone else and are left alone.
 */
import type { Cluster, Worker } from "node:cluster";
import { GlobPattern } from "../glob.js";
import { isRelayMessage, isWorkerToPrimary, type PrimaryToWorker } from "./cluster-messages.js";

/** What `relayPubSub` returns: the relay's live counts, and how to stop it. */
export interface PubSubRelay {
  /** Subscribers of `channel` over every worker. */
  numsub(channel: string): number;
  /** Distinct patterns subscribed to over every worker. */
  numpat(): number;
  /** Stops relaying (the workers' pub/sub then reaches their own connections only). */
  close(): void;
}

interface PatternEntry {
  readonly glob: GlobPattern;
  /** Worker id → connections of it subscribed to the pattern. */
  readonly workers: Map<number, number>;
}

export function relayPubSub(cluster: Cluster): PubSubRelay {
  /** Channel → worker id → connections subscribed. */
  const channels = new Map<string, Map<number, number>>();
  const patterns = new Map<string, PatternEntry>();

  const reply = (worker: Worker, id: number, value: unknown) => send(worker, { retopy: "pubsub:reply", id, value });

  const update = (worker: Worker, kind: "channel" | "pattern", name: string, count: number) => {
    if (kind === "channel") {
      let workers = channels.get(name);
      if (count > 0) {
        if (!workers) channels.set(name, (workers = new Map()));
        workers.set(worker.id, count);
      } else if (workers?.delete(worker.id) && workers.size === 0) {
        channels.delete(name);
      }
      return;
    }
    let entry = patterns.get(name);
    if (count > 0) {
      if (!entry) patterns.set(name, (entry = { glob: new GlobPattern(name), workers: new Map() }));
      entry.workers.set(worker.id, count);
    } else if (entry?.workers.delete(worker.id) && entry.workers.size === 0) {
      patterns.delete(name);
    }
  };

  /** Receivers per worker of a message to `channel`: its channel subscribers plus each matching pattern's. */
  const receivers = (channel: string): Map<number, number> => {
    const counts = new Map(channels.get(channel));
    for (const entry of patterns.values()) {
      if (!entry.glob.matches(channel)) continue;
      for (const [id, count] of entry.workers) counts.set(id, (counts.get(id) ?? 0) + count);
    }
    return counts;
  };

  const onMessage = (worker: Worker, raw: unknown) => {
    // Not ours, a kind of a newer worker, or a wrong shape (the app's own process.send): ignored.
    if (!isRelayMessage(raw) || !isWorkerToPrimary(raw)) return;
    const message = raw;
    switch (message.retopy) {
      case "pubsub:hello":
        return reply(worker, message.id, true);
      case "pubsub:update":
        update(worker, message.kind, message.name, message.count);
        if (message.id !== undefined) reply(worker, message.id, true);
        return;
      case "pubsub:publish": {
        let received = 0;
        const forward: PrimaryToWorker = { retopy: "pubsub:message", channel: message.channel, message: message.message, ...(message.base64 && { base64: true as const }) };
        for (const [id, count] of receivers(message.channel)) {
          const target = cluster.workers?.[id];
          if (target && send(target, forward)) received += count;
        }
        // After the publisher's own copy: its subscribers get the push before PUBLISH's reply.
        return reply(worker, message.id, received);
      }
      case "pubsub:numsub":
        return reply(worker, message.id, message.channels.map((channel) => total(channels.get(channel))));
      case "pubsub:numpat":
        return reply(worker, message.id, patterns.size);
      case "pubsub:channels": {
        const glob = message.pattern === undefined ? null : new GlobPattern(message.pattern);
        return reply(worker, message.id, [...channels.keys()].filter((name) => glob === null || glob.matches(name)));
      }
      default:
        return undefined; // a kind of a newer worker: nothing to do
    }
  };

  const onExit = (worker: Worker) => {
    for (const [name, workers] of channels) if (workers.delete(worker.id) && workers.size === 0) channels.delete(name);
    for (const [name, entry] of patterns) if (entry.workers.delete(worker.id) && entry.workers.size === 0) patterns.delete(name);
  };

  cluster.on("message", onMessage);
  cluster.on("exit", onExit);
  return {
    numsub: (channel) => total(channels.get(channel)),
    numpat: () => patterns.size,
    close: () => {
      cluster.off("message", onMessage);
      cluster.off("exit", onExit);
    },
  };
}

function total(workers: Map<number, number> | undefined): number {
  let sum = 0;
  for (const count of workers?.values() ?? []) sum += count;
  return sum;
}

/** Sends unless the worker is gone (it exits on its own schedule; its 'exit' cleans up). */
function send(worker: Worker, message: PrimaryToWorker): boolean {
  if (!worker.isConnected()) return false;
  worker.send(message);
  return true;
}
