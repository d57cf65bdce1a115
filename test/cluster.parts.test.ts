/**
 * The pure parts of `--workers`: the IPC message guards (the channel is shared with other
 * features), the id blocks, and the sums behind the whole server's stats.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ClientIdSource, ID_BLOCK_SIZE, IdBlocks } from "../src/cluster/id-blocks.js";
import { isToPrimary, isToWorker, type WorkerReport } from "../src/cluster/messages.js";
import { clusterStats, rowLine } from "../src/cluster/stats-rows.js";

describe("cluster IPC messages", () => {
  test("each side takes only its own retopy kinds; anything else on the channel is someone else's", () => {
    assert.ok(isToWorker({ retopy: "drain", timeout: 1 }));
    assert.ok(isToPrimary({ retopy: "stats-request", request: 1 }));
    assert.ok(!isToWorker({ retopy: "stats-request", request: 1 }));
    assert.ok(!isToPrimary({ retopy: "drain", timeout: 1 }));
    for (const foreign of [null, undefined, 3, "drain", { retopy: "relay-publish", channel: "x" }, { type: "drain" }, { retopy: 7 }, { cmd: "NODE_CLUSTER" }]) {
      assert.ok(!isToWorker(foreign), JSON.stringify(foreign));
      assert.ok(!isToPrimary(foreign), JSON.stringify(foreign));
    }
  });
});

describe("client id blocks", () => {
  test("a worker asks for its next block once half of the current one is used, and once only until it comes", () => {
    const blocks = new IdBlocks();
    let asks = 0;
    const source = new ClientIdSource(() => asks++, 1);
    source.add(blocks.take());
    for (let i = 0; i < ID_BLOCK_SIZE / 2 - 1; i++) source.next();
    assert.equal(asks, 0);
    source.next();
    assert.equal(asks, 1);
    for (let i = 0; i < 10; i++) source.next();
    assert.equal(asks, 1);
    source.add(blocks.take());
    assert.equal(source.reserveUsed, 0);
  });

  test("ids from the primary's blocks never repeat over workers and replacements", () => {
    const blocks = new IdBlocks();
    const workers: ClientIdSource[] = [];
    const join = (id: number) => {
      const source: ClientIdSource = new ClientIdSource(() => queueMicrotask(() => source.add(blocks.take())), id);
      source.add(blocks.take());
      workers.push(source);
      return source;
    };
    const seen = new Set<number>();
    let taken = 0;
    return (async () => {
      let [a, b] = [join(1), join(2)];
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 100; i++) {
          seen.add(a.next());
          seen.add(b.next());
          taken += 2;
        }
        await Promise.resolve(); // the primary's answers arrive between reads
        if (round === 10) a = join(3); // a replacement
      }
      assert.equal(seen.size, taken);
      assert.equal(workers.reduce((sum, w) => sum + w.reserveUsed, 0), 0);
    })();
  });

  test("a worker whose blocks ran dry never waits: ids from its own reserve, unique across workers", () => {
    const a = new ClientIdSource(() => undefined, 1);
    const b = new ClientIdSource(() => undefined, 2);
    const ids = new Set([a.next(), a.next(), b.next(), b.next()]);
    assert.equal(ids.size, 4);
    assert.equal(a.reserveUsed, 2);
    for (const id of ids) assert.ok(Number.isSafeInteger(id) && id > 2 ** 48);
  });
});

describe("whole-server stats", () => {
  const report = (commands: number, current: number, get: number, buckets: [number, number][]): WorkerReport => ({
    stats: { uptimeSeconds: 9, connectionsCurrent: current, connectionsTotal: current + 1, connectionsRejected: 1, commandsTotal: commands, errorsTotal: 1, commandCounts: { get } },
    commands: [{ name: "get", calls: get, usec: 10 * get, rejectedCalls: 0, failedCalls: 1, buckets }],
  });

  test("totals add every worker and the retired ones (no current connections for those); latency histograms merge", () => {
    const rows = [
      { id: 1, pid: 11, state: "listening", stale: false, report: report(5, 2, 4, [[3, 4]]) },
      { id: 3, pid: 13, state: "listening", stale: true, report: report(7, 1, 6, [[3, 2], [100, 4]]) },
      { id: 4, pid: 14, state: "starting", stale: false, report: null },
    ];
    const whole = clusterStats(3, 42, rows, report(100, 50, 90, [[3, 90]]));
    assert.equal(whole.totals.uptimeSeconds, 42);
    assert.equal(whole.totals.commandsTotal, 112);
    assert.equal(whole.totals.connectionsCurrent, 3);
    assert.equal(whole.totals.connectionsTotal, 3 + 2 + 51);
    assert.equal(whole.totals.commandCounts.get, 100);
    const [get] = whole.commands;
    assert.equal(get?.calls, 100);
    assert.equal(get?.failedCalls, 3);
    assert.equal(get?.histogram.total, 100);
    assert.equal(get?.percentiles.p50, 3);
    assert.equal(rowLine(rows[1]!), "id=3,pid=13,state=listening,connections_current=1,connections_total=2,connections_rejected=1,commands_total=7,errors_total=1,uptime_seconds=9,stale=1");
    assert.match(rowLine(rows[2]!), /state=starting,connections_current=0,.*stale=1$/);
  });
});
