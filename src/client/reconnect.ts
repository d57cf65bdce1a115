/**
 * The reconnect policy of RetopyClient: how long to wait before each attempt (exponential
 * backoff with jitter, so many clients dropped together do not come back in lockstep), when
 * to give up, and what happens to calls made while disconnected (queued in order, or
 * rejected at once). The client owns the sockets; this file only decides and holds the queue.
 */
import { ClientError } from "./errors.js";
import type { Call, CallOptions } from "./pipeline.js";

/** `reconnect` of `RetopyClient.connect`; every field has a default. */
export interface ReconnectOptions {
  /** Milliseconds before the first attempt; default 100. */
  initialDelay?: number | undefined;
  /** The longest wait between attempts; default 5000. */
  maxDelay?: number | undefined;
  /** Each wait is the previous one times this; default 2. */
  factor?: number | undefined;
  /** Attempts before giving up (then the client closes); default Infinity. */
  maxAttempts?: number | undefined;
  /** `"queue"` (default) sends calls made while disconnected once reconnected; `"reject"` rejects them with DISCONNECTED. */
  whileDisconnected?: "queue" | "reject" | undefined;
  /** Calls queued at most while disconnected; past it they reject with DISCONNECTED. Default 10,000. */
  maxQueue?: number | undefined;
}

export type ReconnectPolicy = Required<ReconnectOptions>;

/** The `reconnect` option with its defaults filled in; null when reconnecting is off. */
export function reconnectPolicy(option: ReconnectOptions | boolean | undefined): ReconnectPolicy | null {
  if (!option) return null;
  const given = option === true ? {} : option;
  return {
    initialDelay: given.initialDelay ?? 100,
    maxDelay: given.maxDelay ?? 5000,
    factor: given.factor ?? 2,
    maxAttempts: given.maxAttempts ?? Infinity,
    whileDisconnected: given.whileDisconnected ?? "queue",
    maxQueue: given.maxQueue ?? 10_000,
  };
}

/** The wait before attempt `attempt` (1-based): the backoff step, then a random half to full of it. */
export function backoffDelay(policy: ReconnectPolicy, attempt: number, random: () => number = Math.random): number {
  const step = Math.min(policy.maxDelay, policy.initialDelay * policy.factor ** (attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** What `reconnecting` events carry. */
export interface ReconnectingEvent {
  attempt: number;
  /** Milliseconds until this attempt. */
  delay: number;
  /** Why the connection (or the previous attempt) failed. */
  error: Error;
}

type Batch = readonly Call[];
type Send = (calls: Batch, options: CallOptions) => Array<Promise<unknown>>;

interface QueuedBatch {
  calls: Batch;
  options: CallOptions;
  /** When the call's timeout (counted from the call, not from the send) runs out. */
  deadline: number | undefined;
  settle: Array<{ resolve(value: unknown): void; reject(error: Error): void }>;
  dropped: boolean;
  cleanup(): void;
}

/** Calls made while disconnected, sent in order once the handshake is redone. */
export class DisconnectedQueue {
  #batches: QueuedBatch[] = [];
  #count = 0;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Queues `calls`; each promise settles once the batch is sent, or rejects if it times out, aborts or the client closes. */
  add(calls: Batch, options: CallOptions): Array<Promise<unknown>> {
    if (this.#count + calls.length > this.#limit) {
      const error = new ClientError("DISCONNECTED", `disconnected, and ${this.#count} calls are queued already (maxQueue ${this.#limit})`);
      return calls.map(() => Promise.reject(error));
    }
    const settle: QueuedBatch["settle"] = [];
    const promises = calls.map(() => new Promise<unknown>((resolve, reject) => settle.push({ resolve, reject })));
    const batch: QueuedBatch = { calls, options, deadline: options.timeout ? Date.now() + options.timeout : undefined, settle, dropped: false, cleanup: () => {} };
    const drop = (error: Error) => {
      if (batch.dropped) return;
      batch.dropped = true;
      batch.cleanup();
      this.#count -= calls.length;
      for (const { reject } of settle) reject(error);
    };
    const onAbort = () => drop(new ClientError("ABORTED", "call aborted before it was sent", { cause: options.signal?.reason }));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = options.timeout ? setTimeout(() => drop(new ClientError("TIMEOUT", `no reply within ${options.timeout} ms (still disconnected)`)), options.timeout) : undefined;
    batch.cleanup = () => {
      options.signal?.removeEventListener("abort", onAbort);
      clearTimeout(timer);
    };
    this.#batches.push(batch);
    this.#count += calls.length;
    return promises;
  }

  /** Sends every queued batch through `send`, in order, with what is left of its timeout. */
  flush(send: Send): void {
    for (const batch of this.#takeAll()) {
      const timeout = batch.deadline === undefined ? undefined : Math.max(1, batch.deadline - Date.now());
      const sent = send(batch.calls, { signal: batch.options.signal, timeout });
      sent.forEach((promise, i) => promise.then(batch.settle[i]!.resolve, batch.settle[i]!.reject));
    }
  }

  /** Rejects everything queued with `error` (the client closed). */
  rejectAll(error: Error): void {
    for (const batch of this.#takeAll()) for (const { reject } of batch.settle) reject(error);
  }

  /** Empties the queue: the batches not dropped yet, each released from its timer and signal. */
  #takeAll(): QueuedBatch[] {
    const live = this.#batches.filter((batch) => !batch.dropped);
    this.#batches = [];
    this.#count = 0;
    for (const batch of live) {
      batch.dropped = true;
      batch.cleanup();
    }
    return live;
  }
}
