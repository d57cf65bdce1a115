/**
 * The calls sent and awaiting their replies, oldest first. Replies come back in request
 * order, so each one settles the oldest call. A call that gave up (aborted, timed out) keeps
 * its place and its reply is dropped when it comes, so later calls are never shifted.
 */
import { ReplyError } from "../protocol/resp-reader.js";
import type { CallOptions } from "./pipeline.js";
import { type BufferReply, decodeStrings } from "./reply.js";
import { ClientError } from "./errors.js";
import type { Confirmations } from "./subscriptions.js";

/** What the client reads of the oldest call: whether pushes answer it. */
export interface PendingCall {
  /** For SUBSCRIBE and the like: the confirmations it still waits for (they are its reply). */
  readonly subscription: Confirmations | undefined;
}

interface Entry extends PendingCall {
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** Resolve bulk strings as Buffers (callBuffer) rather than UTF-8 strings. */
  buffers: boolean;
  /** Set once aborted or timed out: its reply is still awaited, then dropped. */
  settled: boolean;
  cleanup: (() => void) | undefined;
}

export class PendingCalls {
  /** Oldest first from #head: settled slots are skipped by moving #head, and trimmed now and then. */
  readonly #entries: Entry[] = [];
  #head = 0;

  /** Calls whose replies are still due, those that gave up included. */
  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** The oldest call whose reply is due. */
  peek(): PendingCall | undefined {
    return this.#entries[this.#head];
  }

  /** Adds a call just sent; its promise settles with its reply, or early on `timeout` or `signal`. */
  add(buffers: boolean, { signal, timeout }: CallOptions, subscription?: Confirmations): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const entry: Entry = { resolve, reject, buffers, settled: false, subscription, cleanup: undefined };
      const giveUp = (error: Error) => {
        if (entry.settled) return;
        entry.settled = true;
        entry.cleanup?.();
        reject(error);
      };
      const onAbort = () => giveUp(new ClientError("ABORTED", "call aborted", { cause: signal?.reason }));
      signal?.addEventListener("abort", onAbort, { once: true });
      const timer = timeout ? setTimeout(() => giveUp(new ClientError("TIMEOUT", `no reply within ${timeout} ms`)), timeout) : undefined;
      if (signal || timer) {
        entry.cleanup = () => {
          signal?.removeEventListener("abort", onAbort);
          clearTimeout(timer);
        };
      }
      this.#entries.push(entry);
    });
  }

  /** Settles the oldest call with `value` (an error reply rejects it); false when no call was waiting. */
  settleNext(value: BufferReply): boolean {
    const entry = this.#entries[this.#head];
    if (!entry) return false;
    this.#entries[this.#head] = undefined as unknown as Entry;
    this.#head++;
    // Shift the array only once most of it is spent: one copy per many replies, not one each.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries.splice(0, this.#head);
      this.#head = 0;
    }
    if (entry.settled) return true;
    entry.settled = true;
    entry.cleanup?.();
    if (value instanceof ReplyError) entry.reject(value);
    else entry.resolve(entry.buffers ? value : decodeStrings(value));
    return true;
  }

  /** Rejects every call still waiting with `error`, oldest first, and empties the queue. */
  failAll(error: Error): void {
    const waiting = this.#entries.splice(this.#head);
    this.#head = 0;
    this.#entries.length = 0;
    for (const entry of waiting) {
      if (entry.settled) continue;
      entry.settled = true;
      entry.cleanup?.();
      entry.reject(error);
    }
  }
}
