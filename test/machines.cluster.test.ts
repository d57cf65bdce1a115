/**
 * The cluster statechart on its own (no processes): what it emits for the primary to do, and
 * the states it walks through, for start, crashes, crash loops, reloads and shutdown.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createActor } from "xstate";
import { type ClusterEmitted, type ClusterInput, clusterMachine, workerRows } from "../machines/cluster.machine.js";

function start(input: ClusterInput = { size: 2 }) {
  const actor = createActor(clusterMachine, { input });
  const emitted: ClusterEmitted[] = [];
  actor.on("*", (event) => emitted.push(event));
  actor.start();
  let pid = 1000;
  /** Forks as the primary would: FORKED for each `fork` emitted since `from`. */
  const forkPending = (from: number, firstId: number): number[] => {
    const ids: number[] = [];
    for (const event of emitted.slice(from)) {
      if (event.type !== "fork") continue;
      const id = firstId + ids.length;
      ids.push(id);
      actor.send({ type: "FORKED", id, pid: ++pid, replacing: event.replacing });
    }
    return ids;
  };
  return { actor, emitted, forkPending };
}

const kinds = (events: readonly ClusterEmitted[]) => events.map((e) => e.type);

describe("cluster machine", () => {
  it("forks N workers and runs once all listen", () => {
    const { actor, emitted, forkPending } = start({ size: 3 });
    assert.deepEqual(kinds(emitted), ["fork", "fork", "fork"]);
    assert.deepEqual(forkPending(0, 1), [1, 2, 3]);
    actor.send({ type: "LISTENING", id: 1 });
    actor.send({ type: "LISTENING", id: 2 });
    assert.equal(actor.getSnapshot().value, "starting");
    actor.send({ type: "LISTENING", id: 3 });
    assert.deepEqual(actor.getSnapshot().value, { running: "steady" });
    assert.deepEqual(workerRows(actor.getSnapshot().context).map((r) => [r.id, r.state, r.stale]), [[1, "listening", false], [2, "listening", false], [3, "listening", false]]);
  });

  it("a worker that exits before it ever listened at start stops the cluster: the others drain, then failed", () => {
    const { actor, emitted, forkPending } = start();
    forkPending(0, 1);
    actor.send({ type: "LISTENING", id: 2 });
    actor.send({ type: "EXITED", id: 1, code: 1, signal: null, at: 10 });
    assert.equal(actor.getSnapshot().value, "failing");
    assert.match(actor.getSnapshot().context.failure ?? "", /worker 1 exited \(code 1\) before it ever listened/);
    assert.deepEqual(emitted.slice(2), [{ type: "giveUp", reason: actor.getSnapshot().context.failure }, { type: "drain", id: 2, reload: false }]);
    actor.send({ type: "EXITED", id: 2, code: 0, signal: null, at: 11 });
    assert.equal(actor.getSnapshot().value, "failed");
    assert.equal(actor.getSnapshot().status, "done");
  });

  it("replaces crashed workers after a doubling backoff, and gives up past crashLimit within the window", () => {
    const { actor, emitted, forkPending } = start({ size: 2, crashLimit: 3, crashWindowMs: 1000, backoffBaseMs: 100, backoffMaxMs: 350 });
    forkPending(0, 1);
    actor.send({ type: "LISTENING", id: 1 });
    actor.send({ type: "LISTENING", id: 2 });
    let next = 3;
    const backoffs: number[] = [];
    for (let crash = 0; crash < 3; crash++) {
      const from = emitted.length;
      const victim = Number(Object.keys(actor.getSnapshot().context.workers)[0]);
      actor.send({ type: "EXITED", id: victim, code: 3, signal: null, at: 100 * crash });
      const crashed = emitted.slice(from).find((e) => e.type === "crashed");
      assert.ok(crashed && crashed.type === "crashed");
      backoffs.push(crashed.backoffMs);
      const fork = emitted.slice(from).find((e) => e.type === "fork");
      assert.deepEqual(fork, { type: "fork", replacing: null, delayMs: crashed.backoffMs });
      const [id] = forkPending(from, next++);
      actor.send({ type: "LISTENING", id: id! });
    }
    assert.deepEqual(backoffs, [100, 200, 350]);
    const victim = Number(Object.keys(actor.getSnapshot().context.workers)[0]);
    actor.send({ type: "EXITED", id: victim, code: null, signal: "SIGSEGV", at: 350 });
    assert.equal(actor.getSnapshot().value, "failing");
    assert.match(actor.getSnapshot().context.failure ?? "", /^crash loop: 4 worker crashes within 1000 ms \(limit 3\)/);
  });

  it("crashes outside the window do not add up", () => {
    const { actor, emitted, forkPending } = start({ size: 1, crashLimit: 1, crashWindowMs: 1000 });
    forkPending(0, 1);
    actor.send({ type: "LISTENING", id: 1 });
    for (let crash = 0; crash < 5; crash++) {
      const from = emitted.length;
      const id = Number(Object.keys(actor.getSnapshot().context.workers)[0]);
      actor.send({ type: "EXITED", id, code: 1, signal: null, at: crash * 2000 });
      assert.deepEqual(actor.getSnapshot().value, { running: "steady" });
      const [replacement] = forkPending(from, 10 + crash);
      actor.send({ type: "LISTENING", id: replacement! });
    }
  });

  it("reloads one worker at a time: fork the replacement, drain the old one once it listens; a RELOAD meanwhile is queued", () => {
    const { actor, emitted, forkPending } = start();
    forkPending(0, 1);
    actor.send({ type: "LISTENING", id: 1 });
    actor.send({ type: "LISTENING", id: 2 });
    let from = emitted.length;
    actor.send({ type: "RELOAD" });
    assert.deepEqual(emitted.slice(from), [{ type: "reloadStarted", workers: [1, 2] }, { type: "fork", replacing: 1, delayMs: 0 }]);
    actor.send({ type: "RELOAD" }); // queued
    forkPending(from, 3);
    from = emitted.length;
    actor.send({ type: "LISTENING", id: 3 });
    assert.deepEqual(emitted.slice(from), [{ type: "drain", id: 1, reload: true }]);
    // Worker 2 is not touched until worker 1 is gone.
    from = emitted.length;
    actor.send({ type: "EXITED", id: 1, code: 0, signal: null, at: 1 });
    assert.deepEqual(emitted.slice(from), [{ type: "fork", replacing: 2, delayMs: 0 }]);
    forkPending(from, 4);
    actor.send({ type: "LISTENING", id: 4 });
    from = emitted.length;
    actor.send({ type: "EXITED", id: 2, code: 0, signal: null, at: 2 });
    // The queued pass starts over the new workers.
    assert.deepEqual(emitted.slice(from), [{ type: "reloadStarted", workers: [3, 4] }, { type: "fork", replacing: 3, delayMs: 0 }]);
    assert.deepEqual(actor.getSnapshot().value, { running: "reloading" });
    assert.deepEqual(actor.getSnapshot().context.crashes, [], "a reload is no crash");
  });

  it("a replacement that exits before it listens abandons the reload and keeps the old worker", () => {
    const { actor, emitted, forkPending } = start();
    forkPending(0, 1);
    actor.send({ type: "LISTENING", id: 1 });
    actor.send({ type: "LISTENING", id: 2 });
    const from = emitted.length;
    actor.send({ type: "RELOAD" });
    forkPending(from, 3);
    actor.send({ type: "EXITED", id: 3, code: 1, signal: null, at: 5 });
    assert.deepEqual(actor.getSnapshot().value, { running: "steady" });
    assert.deepEqual(emitted.at(-1), { type: "reloadFailed", id: 3, old: 1, code: 1, signal: null });
    assert.deepEqual(workerRows(actor.getSnapshot().context).map((r) => [r.id, r.state]), [[1, "listening"], [2, "listening"]]);
    assert.deepEqual(actor.getSnapshot().context.crashes, []);
  });

  it("SHUTDOWN drains every worker; stopped when the last exits, unclean if one exited non-zero", () => {
    const { actor, emitted, forkPending } = start();
    forkPending(0, 1);
    actor.send({ type: "LISTENING", id: 1 });
    actor.send({ type: "LISTENING", id: 2 });
    const from = emitted.length;
    actor.send({ type: "SHUTDOWN" });
    assert.deepEqual(emitted.slice(from), [{ type: "drain", id: 1, reload: false }, { type: "drain", id: 2, reload: false }]);
    actor.send({ type: "EXITED", id: 1, code: 0, signal: null, at: 1 });
    assert.equal(actor.getSnapshot().value, "stopping");
    actor.send({ type: "EXITED", id: 2, code: 1, signal: null, at: 2 });
    assert.equal(actor.getSnapshot().value, "stopped");
    assert.equal(actor.getSnapshot().context.uncleanStop, true);
    assert.deepEqual(actor.getSnapshot().context.crashes, [], "a drained worker's exit is no crash");
  });

  it("keeps each worker's last report, marks late ones stale, and retires the counts of workers that exit", () => {
    const { actor, forkPending } = start();
    forkPending(0, 1);
    const stats = { uptimeSeconds: 1, connectionsCurrent: 2, connectionsTotal: 5, connectionsRejected: 0, commandsTotal: 7, errorsTotal: 1, commandCounts: { get: 7 } };
    const commands = [{ name: "get", calls: 7, usec: 70, rejectedCalls: 0, failedCalls: 1, buckets: [[3, 7]] as [number, number][] }];
    actor.send({ type: "REPORT", id: 1, report: { stats, commands } });
    actor.send({ type: "REPORT", id: 2, report: { stats, commands } });
    actor.send({ type: "STALE", ids: [1] });
    assert.equal(actor.getSnapshot().context.workers["1"]?.stale, true);
    actor.send({ type: "LISTENING", id: 1 });
    actor.send({ type: "LISTENING", id: 2 });
    actor.send({ type: "SHUTDOWN" });
    actor.send({ type: "EXITED", id: 1, code: 0, signal: null, at: 1 });
    const retired = actor.getSnapshot().context.retired;
    assert.equal(retired?.stats.commandsTotal, 7);
    assert.equal(retired?.stats.connectionsCurrent, 0);
    assert.equal(retired?.stats.commandCounts.get, 7);
    actor.send({ type: "EXITED", id: 2, code: 0, signal: null, at: 2 });
    // Merged by command, however many workers retire: one entry, the calls added.
    const merged = actor.getSnapshot().context.retired;
    assert.deepEqual(merged?.commands.map((c) => [c.name, c.calls, c.buckets]), [["get", 14, [[3, 14]]]]);
    assert.equal(merged?.stats.commandsTotal, 14);
  });
});
