/**
 * Per-command latency: the bounded histogram's precision (a property over every magnitude),
 * and INFO commandstats / latencystats over TCP, checked against a real redis-server 7
 * answering the same commands: same fields, same order, same rejected-vs-failed meaning.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import type { Redis } from "ioredis";
import { Application, authenticated, command, CommandError, CommandHandler, parameter, passwordAuthenticator } from "../src/index.js";
import { BUCKETS, bucketLowerBound, bucketOf, LatencyHistogram } from "../src/latency-histogram.js";
import { connectRedis, type RedisServer, startRedisServer } from "./redis-support.js";
import { useTestBed } from "./support.js";

describe("LatencyHistogram", () => {
  it("puts every duration in the bucket whose bounds hold it, buckets at most 12.5% wide", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 2 ** 32 - 1, noNaN: true }), (micros) => {
        const bucket = bucketOf(micros);
        assert.ok(bucket >= 0 && bucket < BUCKETS);
        const low = bucketLowerBound(bucket);
        const high = bucketLowerBound(bucket + 1);
        assert.ok(low <= Math.floor(micros) && Math.floor(micros) < high, `${micros} in [${low}, ${high})`);
        if (low >= 16) assert.ok((high - low) / low <= 0.125);
      }),
      { numRuns: 5000 },
    );
    assert.equal(bucketOf(-5), 0);
    assert.equal(bucketOf(Number.NaN), 0);
    assert.equal(bucketOf(1e15), BUCKETS - 1, "past 2^32 µs: the last bucket");
  });

  it("reports percentiles within 6.25% (0.5 µs below 16 µs) of the exact ones", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50_000_000 }), { minLength: 1, maxLength: 400 }), fc.constantFrom(50, 99, 99.9), (values, p) => {
        const h = new LatencyHistogram();
        for (const v of values) h.record(v);
        const sorted = [...values].sort((a, b) => a - b);
        const exact = sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
        const reported = h.percentile(p);
        assert.ok(Math.abs(reported - exact) <= Math.max(0.5, exact * 0.0625), `p${p}: ${reported} vs ${exact}`);
      }),
      { numRuns: 500 },
    );
  });

  it("holds fixed memory: a million values fill the same 240 counters", () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 1_000_000; i++) h.record(i % 100_000);
    assert.equal(h.counts.length, BUCKETS);
    assert.equal(h.total, 1_000_000);
    assert.equal(h.countBelow(2 ** 32), 1_000_000);
  });
});

/** A SET and an INCR that behave as Redis's for the commands below. */
function redisLikeApp(): Application {
  const store = new Map<string, string>();
  const app = new Application();
  app.command("set", { params: ["key", "value"] }, (h) => {
    store.set(h.getArgument("key"), h.getArgument("value"));
  });
  app.command("incr", { params: ["key"] }, (h) => {
    const value = store.get(h.getArgument("key")) ?? "0";
    if (!/^-?\d+$/.test(value)) throw new CommandError("value is not an integer or out of range");
    const next = String(Number(value) + 1);
    store.set(h.getArgument("key"), next);
    return Number(next);
  });
  return app;
}

/** The same commands on any server: two SETs, one SET of the wrong arity, an INCR that fails, one that works. */
async function exercise(redis: Redis): Promise<void> {
  await redis.call("set", "a", "1");
  await assert.rejects(redis.call("set", "a"));
  await redis.call("set", "b", "x");
  await assert.rejects(redis.call("incr", "b"), /not an integer/);
  assert.equal(await redis.call("incr", "a"), 2);
}

/** INFO lines of these commands with their timings blanked: what must read the same on both servers. */
function shapeOf(info: string, names: readonly string[]): string[] {
  return info
    .split("\r\n")
    .filter((line) => names.some((name) => line.startsWith(`cmdstat_${name}:`) || line.startsWith(`latency_percentiles_usec_${name}:`)))
    .map((line) =>
      line
        .replace(/usec=\d+,usec_per_call=\d+\.\d\d,/, "usec=U,usec_per_call=U.UU,")
        .replace(/p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}/, "p50=P,p99=P,p99.9=P"),
    );
}

describe("INFO commandstats and latencystats, as redis-server 7 writes them", () => {
  const bed = useTestBed();
  let real: RedisServer;
  let realRedis: Redis;

  before(async () => {
    real = await startRedisServer();
    realRedis = real.client;
  });

  after(() => real?.stop());

  it("the same commands give the same lines (calls, rejected_calls for a wrong arity, failed_calls for a failure), timings aside", async () => {
    await realRedis.call("config", "resetstat");
    await exercise(realRedis);
    const theirs = String(await realRedis.call("info", "commandstats", "latencystats"));
    const port = await bed.serve(redisLikeApp());
    const redis = await connectRedis(port);
    try {
      await exercise(redis);
      const ours = String(await redis.call("info", "commandstats", "latencystats"));
      // Redis lists commands in its table's order, ours are by name: compared as sorted lines.
      const expected = shapeOf(theirs, ["set", "incr"]).sort();
      assert.deepEqual(expected, [
        "cmdstat_incr:calls=2,usec=U,usec_per_call=U.UU,rejected_calls=0,failed_calls=1",
        "cmdstat_set:calls=2,usec=U,usec_per_call=U.UU,rejected_calls=1,failed_calls=0",
        "latency_percentiles_usec_incr:p50=P,p99=P,p99.9=P",
        "latency_percentiles_usec_set:p50=P,p99=P,p99.9=P",
      ], "what redis-server 7 says (the check of this test itself)");
      assert.deepEqual(shapeOf(ours, ["set", "incr"]).sort(), expected);
      assert.match(ours, /^# Commandstats\r\n/m);
      assert.match(ours, /^# Latencystats\r\n/m);
    } finally {
      redis.disconnect();
    }
  });

  it("CONFIG RESETSTAT starts the figures again, on both", async () => {
    const port = await bed.serve(redisLikeApp());
    for (const redis of [realRedis, await connectRedis(port)]) {
      await redis.call("set", "x", "1");
      assert.equal(await redis.call("config", "resetstat"), "OK");
      const info = String(await redis.call("info", "commandstats"));
      assert.doesNotMatch(info, /cmdstat_set:/, "nothing called since the reset");
      await redis.call("set", "x", "2");
      assert.match(String(await redis.call("info", "commandstats")), /cmdstat_set:calls=1,/);
      if (redis !== realRedis) redis.disconnect();
    }
  });
});

class Guarded extends CommandHandler {
  @authenticated
  @command()
  secret(): string {
    return "s";
  }

  @parameter({ name: "ms" })
  @command()
  async nap(): Promise<string> {
    await sleep(Number(this.getArgument("ms")));
    return "rested";
  }
}

describe("commandstats: retopy's own cases", () => {
  const bed = useTestBed();

  it("a command refused for a login is rejected, not called; an async command's time runs to its reply; a pipeline counts every call", async () => {
    const app = new Application([Guarded], { authenticate: passwordAuthenticator({ alice: "pw" }) });
    const port = await bed.serve(app);
    const redis = await connectRedis(port);
    try {
      await assert.rejects(redis.call("secret"), /NOAUTH/);
      assert.equal(await redis.call("nap", "30"), "rested");
      const pipeline = redis.pipeline();
      for (let i = 0; i < 100; i++) pipeline.call("nap", "0");
      await pipeline.exec();
      const info = String(await redis.call("info", "commandstats"));
      assert.match(info, /cmdstat_secret:calls=0,usec=0,usec_per_call=0\.00,rejected_calls=1,failed_calls=0/);
      const nap = /cmdstat_nap:calls=(\d+),usec=(\d+),/.exec(info);
      assert.ok(nap, info);
      assert.equal(Number(nap[1]), 101);
      // A lower bound only: the 30 ms command alone took at least 30,000 µs minus timer slack.
      assert.ok(Number(nap[2]) >= 25_000, `usec ${nap[2]} counts the async command's wait`);
      const latency = String(await redis.call("info", "latencystats"));
      assert.match(latency, /latency_percentiles_usec_nap:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}/);
      assert.doesNotMatch(latency, /latency_percentiles_usec_secret:/, "no call ran: no latency line, as in Redis");
    } finally {
      redis.disconnect();
    }
  });

  it("an async command's time is its own while other connections run commands meanwhile", async () => {
    const app = new Application([Guarded]);
    app.command("quick", {}, () => "q");
    const durations: number[] = [];
    app.addHook("onResponse", ({ command, durationMs }) => {
      if (command === "nap") durations.push(durationMs);
    });
    const port = await bed.serve(app);
    const napper = await connectRedis(port);
    const busy = await connectRedis(port);
    try {
      const nap = napper.call("nap", "40");
      // While it waits, another connection's commands start and finish (they share the clock).
      for (let i = 0; i < 30; i++) await busy.call("quick");
      assert.equal(await nap, "rested");
      const info = String(await busy.call("info", "commandstats"));
      const usec = Number(/cmdstat_nap:calls=1,usec=(\d+),/.exec(info)?.[1]);
      assert.ok(usec >= 35_000, `nap's usec ${usec} runs from its own start`);
      assert.equal(durations.length, 1);
      assert.ok(durations[0]! >= 35, `onResponse durationMs ${durations[0]}`);
    } finally {
      napper.disconnect();
      busy.disconnect();
    }
  });

  it("INFO without sections leaves commandstats and latencystats out, INFO all has them", async () => {
    const port = await bed.serve(redisLikeApp());
    const client = await bed.open(port);
    await client.command("set a 1");
    client.close();
    const redis = await connectRedis(port);
    try {
      const plain = String(await redis.call("info"));
      assert.doesNotMatch(plain, /# Commandstats|# Latencystats/);
      const all = String(await redis.call("info", "all"));
      assert.match(all, /# Commandstats\r\ncmdstat_/);
      assert.match(all, /# Latencystats\r\nlatency_percentiles_usec_/);
    } finally {
      redis.disconnect();
    }
  });
});
