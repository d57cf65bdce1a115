/**
 * An async iterator over a client's pushes, for `for await` loops: it buffers what arrives
 * between two `next()` calls and ends when the client closes or the signal aborts.
 */
import type { EventEmitter } from "node:events";
import type { Reply } from "./reply.js";

/** Yields each `push` event of `emitter` until its `close` event or `signal`. */
export function pushIterator(emitter: EventEmitter, signal?: AbortSignal): AsyncIterableIterator<Reply[]> {
  const queued: Reply[][] = [];
  const waiting: Array<(result: IteratorResult<Reply[]>) => void> = [];
  let done = false;
  const onPush = (values: Reply[]) => {
    const next = waiting.shift();
    if (next) next({ value: values, done: false });
    else queued.push(values);
  };
  const finish = () => {
    if (done) return;
    done = true;
    emitter.off("push", onPush);
    emitter.off("close", finish);
    signal?.removeEventListener("abort", finish);
    for (const next of waiting.splice(0)) next({ value: undefined, done: true });
  };
  emitter.on("push", onPush);
  emitter.once("close", finish);
  if (signal?.aborted) finish();
  else signal?.addEventListener("abort", finish, { once: true });
  return {
    next() {
      const values = queued.shift();
      if (values) return Promise.resolve({ value: values, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => waiting.push(resolve));
    },
    return() {
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
