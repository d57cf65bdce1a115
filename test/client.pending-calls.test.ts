/**
 * The client's queue of calls awaiting replies (src/client/pending-calls.ts) on its own:
 * replies settle calls oldest first, a call that gave up keeps its place (its reply is
 * dropped), and failing the queue rejects every waiter in order, once.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { ClientError, ReplyError } from "../src/client/errors.js";
import { PendingCalls } from "../src/client/pending-calls.js";
import { confirmationsOf } from "../src/client/subscriptions.js";

/** Records the order in which `promises` settle, as `name:value` or `name!code`. */
function settleOrder(promises: ReadonlyArray<readonly [string, Promise<unknown>]>): { order: string[]; done: Promise<unknown> } {
  const order: string[] = [];
  const done = Promise.all(
    promises.map(([name, promise]) =>
      promise.then(
        (value) => order.push(`${name}:${String(value)}`),
        (error: ClientError | ReplyError) => order.push(`${name}!${error.code}`),
      ),
    ),
  );
  return { order, done };
}

describe("client pending calls", () => {
  it("settles calls oldest first: strings decoded, Buffers kept for callBuffer, error replies rejected", async () => {
    const pending = new PendingCalls();
    const text = pending.add(false, {});
    const bytes = pending.add(true, {});
    const failed = pending.add(false, {});
    assert.equal(pending.length, 3);
    assert.equal(pending.settleNext(Buffer.from("héllo")), true);
    assert.equal(pending.settleNext(Buffer.from([0xff])), true);
    assert.equal(pending.settleNext(new ReplyError("WRONGTYPE not a list")), true);
    assert.equal(await text, "héllo");
    assert.deepEqual(await bytes, Buffer.from([0xff]));
    await assert.rejects(failed, (error: unknown) => error instanceof ReplyError && error.code === "WRONGTYPE");
    assert.equal(pending.length, 0);
    assert.equal(pending.settleNext(1), false, "a reply with no call waiting is refused");
  });

  it("a call that times out or aborts rejects at once but keeps its place: its reply is dropped, the next call gets its own", async () => {
    const pending = new PendingCalls();
    const controller = new AbortController();
    const slow = pending.add(false, { timeout: 10 });
    const aborted = pending.add(false, { signal: controller.signal });
    const next = pending.add(false, {});
    controller.abort();
    await assert.rejects(aborted, { code: "ABORTED" });
    await assert.rejects(slow, { code: "TIMEOUT" });
    assert.equal(pending.length, 3, "both still wait for their replies");
    pending.settleNext(Buffer.from("slow's reply"));
    pending.settleNext(Buffer.from("aborted's reply"));
    pending.settleNext(Buffer.from("next's reply"));
    assert.equal(await next, "next's reply");
  });

  it("a settled call lets go of its signal and timer", async () => {
    const pending = new PendingCalls();
    const controller = new AbortController();
    const call = pending.add(false, { signal: controller.signal, timeout: 30 });
    assert.equal(getEventListeners(controller.signal, "abort").length, 1);
    pending.settleNext(7);
    assert.equal(await call, 7);
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
    await sleep(50); // past the timeout: nothing rejects late (an unhandled rejection would fail the run)
  });

  it("failAll rejects every waiter in order with the one error, skips calls that gave up, and empties the queue", async () => {
    const pending = new PendingCalls();
    const controller = new AbortController();
    const answered = pending.add(false, {});
    const calls = [
      ["a", pending.add(false, {})],
      ["gaveUp", pending.add(false, { signal: controller.signal })],
      ["b", pending.add(true, {})],
      ["c", pending.add(false, {}, confirmationsOf(["SUBSCRIBE", "x"]))],
    ] as const;
    pending.settleNext(Buffer.from("first")); // the oldest
    controller.abort();
    // Listened to newest first, so the order seen is the order failAll rejects in.
    const { order, done } = settleOrder([...calls].reverse());
    const closed = new ClientError("CLOSED", "client closed");
    pending.failAll(closed);
    await done;
    assert.equal(await answered, "first");
    assert.deepEqual(order, ["gaveUp!ABORTED", "a!CLOSED", "b!CLOSED", "c!CLOSED"]);
    for (const [name, promise] of calls) if (name !== "gaveUp") await assert.rejects(promise, (error) => error === closed);
    assert.equal(pending.length, 0);
    assert.equal(pending.peek(), undefined);
    pending.failAll(new ClientError("CLOSED", "again"));
    assert.equal(pending.settleNext(1), false);
  });

  it("keeps the order across the queue's compaction (thousands of calls)", async () => {
    const pending = new PendingCalls();
    const calls = Array.from({ length: 5000 }, () => pending.add(false, {}));
    for (let i = 0; i < 3000; i++) pending.settleNext(i);
    const later = Array.from({ length: 1000 }, () => pending.add(false, {}));
    for (let i = 3000; i < 6000; i++) pending.settleNext(i);
    assert.deepEqual(await Promise.all([...calls, ...later]), Array.from({ length: 6000 }, (_, i) => i));
    assert.equal(pending.length, 0);
  });

  it("peek shows what the oldest call awaits: confirmations for a subscription call", () => {
    const pending = new PendingCalls();
    void pending.add(false, {}, confirmationsOf(["SUBSCRIBE", "a", "b"]));
    void pending.add(false, {});
    assert.deepEqual(pending.peek()?.subscription, { kind: "subscribe", remaining: 2 });
    pending.settleNext(2);
    assert.equal(pending.peek()?.subscription, undefined);
  });
});
