/**
 * The glob matcher against the real thing: a redis-server started here on a free port of
 * 127.0.0.1 holds a few hundred awkward keys, and for thousands of generated patterns its
 * KEYS must list exactly the keys `globMatch` accepts. (.ci/run installs redis-server.)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { Redis } from "ioredis";
import { globMatch } from "../src/glob.js";
import { type RedisServer, startRedisServer } from "./redis-support.js";

describe("globMatch agrees with redis-server's KEYS", () => {
  let real: RedisServer;
  let redis: Redis;

  before(async () => {
    real = await startRedisServer();
    redis = real.client;
  });

  after(() => real?.stop());

  it("lists exactly the keys globMatch accepts, for 2,000 generated patterns", async () => {
    const keyUnit = fc.constantFrom("a", "b", "-", "]", "^", "\\", "[", "*", "?");
    const keys = [...new Set(fc.sample(fc.string({ unit: keyUnit, minLength: 1, maxLength: 6 }), { numRuns: 300, seed: 10 }))];
    await redis.flushall();
    await redis.mset(keys.flatMap((key) => [key, "1"]));
    const patterns = fc.sample(fc.string({ unit: fc.constantFrom("a", "b", "*", "?", "[", "]", "^", "-", "\\"), maxLength: 8 }), { numRuns: 2000, seed: 11 });
    for (const pattern of patterns) {
      const theirs = (await redis.keys(pattern)).sort();
      const ours = keys.filter((key) => globMatch(pattern, key)).sort();
      assert.deepEqual(ours, theirs, `pattern ${JSON.stringify(pattern)}`);
    }
  });
});
