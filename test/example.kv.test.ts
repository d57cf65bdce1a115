/**
 * examples/kv.ts, the server `npm run bench` measures, run exactly as the bench runs it
 * (bench/kv-server.mjs as a child process) and driven by ioredis over 127.0.0.1: the numbers
 * in the bench table are only worth something if this server answers like Redis.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { connectRedis } from "./redis-support.js";
import { TextClient } from "./support.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

describe("examples/kv.ts (the bench's server) through ioredis", () => {
  let child: ChildProcess;
  let port: number;
  let redis: Redis;

  before(async () => {
    child = spawn(process.execPath, ["bench/kv-server.mjs", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    const [chunk] = (await Promise.race([
      once(child.stdout!, "data"),
      once(child, "exit").then(() => {
        throw new Error("bench/kv-server.mjs exited before printing its port");
      }),
    ])) as [Buffer];
    port = Number(chunk.toString().trim());
    assert.ok(port > 0, `port from bench/kv-server.mjs: ${chunk.toString()}`);
    redis = await connectRedis(port);
  });

  after(async () => {
    redis?.disconnect();
    child?.kill();
    if (child && child.exitCode === null) await once(child, "exit");
  });

  it("PING, PING message", async () => {
    assert.equal(await redis.ping(), "PONG");
    assert.equal(await redis.call("ping", "hello"), "hello");
  });

  it("SET/GET keep text values as sent, even ones that look like protocol", async () => {
    assert.equal(await redis.set("a", "+1"), "OK");
    assert.equal(await redis.get("a"), "+1");
    assert.equal(await redis.set("long", "x".repeat(1000)), "OK");
    assert.equal(await redis.get("long"), "x".repeat(1000));
    assert.equal(await redis.get("missing"), null);
  });

  it("SET/GET round-trip every byte value and UTF-8 text", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await redis.set("bytes", bytes);
    assert.ok((await redis.getBuffer("bytes"))!.equals(bytes));
    await redis.set("utf8", "héllo wörld ✓");
    assert.equal(await redis.get("utf8"), "héllo wörld ✓");
  });

  it("INCR follows Redis: a missing key starts at 0, text is refused, int64 bounds hold", async () => {
    assert.equal(await redis.incr("n"), 1);
    assert.equal(await redis.incr("n"), 2);
    assert.equal(await redis.get("n"), "2");
    await redis.set("word", "abc");
    await assert.rejects(redis.incr("word"), /ERR value is not an integer or out of range/);
    await redis.set("big", "9007199254740992"); // 2^53: past the exact doubles
    assert.equal(await redis.incr("big"), 9007199254740993);
    assert.equal(await redis.get("big"), "9007199254740993");
    await redis.set("max", "9223372036854775807");
    await assert.rejects(redis.incr("max"), /ERR increment or decrement would overflow/);
    await redis.set("binary-digits", Buffer.from([0x31, 0xff]));
    await assert.rejects(redis.incr("binary-digits"), /ERR value is not an integer/);
  });

  it("DEL counts the keys that existed", async () => {
    await redis.set("d1", "x");
    await redis.set("d2", "y");
    assert.equal(await redis.del("d1", "d2", "nope"), 2);
    assert.equal(await redis.get("d1"), null);
  });

  it("keeps a pipeline of 1,000 mixed commands in order", async () => {
    const pipeline = redis.pipeline();
    for (let i = 0; i < 500; i++) pipeline.set(`p${i}`, String(i)).get(`p${i}`);
    const results = (await pipeline.exec())!;
    assert.equal(results.length, 1000);
    for (let i = 0; i < 500; i++) {
      assert.deepEqual(results[2 * i], [null, "OK"]);
      assert.deepEqual(results[2 * i + 1], [null, String(i)]);
    }
  });

  it("speaks the text protocol on the same port (telnet)", async () => {
    const client = await TextClient.connect(port);
    try {
      assert.equal(await client.command("set t 5"), "+OK");
      assert.equal(await client.command("incr t"), "6");
      assert.equal(await client.command("get t"), "6");
    } finally {
      client.close();
    }
  });
});
