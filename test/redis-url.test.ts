import assert from "node:assert/strict";
import { test } from "node:test";
import { parseRedisUrl, redactRedisUrl } from "../src/redis-url.js";

test("a Redis URL gives host, port, db, TLS and credentials", () => {
  assert.deepEqual(parseRedisUrl("redis://127.0.0.1"), { host: "127.0.0.1", port: 6379, db: 0 });
  assert.deepEqual(parseRedisUrl("redis://cache.internal:6380/2"), { host: "cache.internal", port: 6380, db: 2 });
  assert.deepEqual(parseRedisUrl("rediss://app:s%40cret@[::1]:7000"), { host: "::1", port: 7000, db: 0, tls: true, user: "app", password: "s@cret" });
  // redis-cli's form for a password without a user
  assert.deepEqual(parseRedisUrl("redis://:pw@h"), { host: "h", port: 6379, db: 0, password: "pw" });
});

test("a bad Redis URL is refused with a reason and without its password", () => {
  for (const [url, why] of [
    ["127.0.0.1:6379", /not a URL|scheme/],
    ["http://h:1", /scheme must be redis/],
    ["redis://h:1/x", /database number/],
    ["redis://h:1/1/2", /database number/],
    ["redis://h?db=1", /query strings/],
    ["redis://u:topsecret@h:99999", /not a URL/],
  ] as const) {
    assert.throws(() => parseRedisUrl(url), (error: Error & { code?: string }) => {
      assert.equal(error.code, "RETOPY_INVALID_OPTION");
      assert.match(error.message, why);
      assert.doesNotMatch(error.message, /topsecret/);
      return true;
    }, url);
  }
  assert.equal(redactRedisUrl("redis://u:topsecret@h:1"), "redis://u:***@h:1");
  // A password written without its ':' is a user name by the URL rules: masked all the same.
  assert.equal(redactRedisUrl("redis://topsecret@h:1"), "redis://***@h:1");
  assert.equal(redactRedisUrl("redis://h:1/2"), "redis://h:1/2");
});
