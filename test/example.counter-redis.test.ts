/**
 * examples/counter-redis.ts served by two real `retopy serve --redis` processes sharing one
 * real redis-server: the original README's session, typed through real telnet, gives the
 * same answers when its lines alternate between the two (what a client moved between
 * workers or machines sees), and again after either process restarts. Also the CLI's side of
 * `--redis`: REDIS_URL, an unreachable Redis (exit 1, one line), a bad URL (exit 2).
 * Needs `npm run build` (the CLI runs from dist; `npm test` builds first).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CliProcess } from "./cli-process.js";
import { freePort, type RedisServer, startRedisServer } from "./redis-support.js";
import { SEED_SESSION } from "./seed-session.js";
import { TextClient } from "./support.js";
import { skipWithoutTelnet as skip, TelnetProcess } from "./telnet-support.js";

const EXAMPLE = "examples/counter-redis.ts";

describe("examples/counter-redis.ts behind two retopy serve processes", () => {
  const processes: CliProcess[] = [];
  const telnets: TelnetProcess[] = [];
  let redis: RedisServer | undefined;
  after(() => {
    for (const telnet of telnets) telnet.kill();
    for (const child of processes) child.kill();
    redis?.stop();
  });

  const serve = async (url: string): Promise<CliProcess> => {
    const child = new CliProcess(["serve", EXAMPLE, "--port", "0", "--redis", url]);
    processes.push(child);
    await child.port();
    return child;
  };

  const telnet = async (port: number): Promise<TelnetProcess> => {
    const session = new TelnetProcess(port);
    telnets.push(session);
    await session.connected();
    return session;
  };

  /** `rem a b` as a first line is a command: the session starts from no counters. */
  const reset = async (port: number): Promise<void> => {
    const client = await TextClient.connect(port);
    assert.equal(await client.command("rem a b"), "+OK");
    client.close();
  };

  /**
   * The session with its header typed to both, then each later line to the other server than
   * the line before; resolves with every reply in the order typed.
   */
  const alternate = async (ports: readonly [number, number]): Promise<string[]> => {
    const sessions = [await telnet(ports[0]), await telnet(ports[1])] as const;
    const [first, ...commands] = SEED_SESSION;
    for (const session of sessions) await session.type(first![0]);
    const replies: string[] = [];
    for (const [i, [line]] of commands.entries()) replies.push(await sessions[i % 2]!.type(line, true));
    for (const session of sessions) {
      assert.equal(await session.type("quit", true), "+OK");
      await session.exited();
    }
    return replies;
  };

  const expected = SEED_SESSION.slice(1).map(([, reply]) => reply);

  it("answers the seed session the same whichever process each line lands on, and after either restarts", { skip, timeout: 90_000 }, async () => {
    redis = await startRedisServer();
    const url = `redis://127.0.0.1:${redis.port}/1`;
    const running = [await serve(url), await serve(url)];
    const ports: [number, number] = [await running[0]!.port(), await running[1]!.port()];
    await reset(ports[0]);
    assert.deepEqual(await alternate(ports), expected);
    // The counts are in Redis, not in either process.
    await redis.client.select(1);
    assert.equal(await redis.client.get("counter:b"), "1");

    for (const which of [0, 1] as const) {
      const old = running[which]!;
      old.child.kill("SIGTERM");
      assert.deepEqual(await old.exit(), { code: 0, signal: null });
      running[which] = await serve(url);
      ports[which] = await running[which]!.port();
      // What the old process counted is still there for the new one.
      const client = await TextClient.connect(ports[which]);
      assert.equal(await client.command("get b"), "1");
      client.close();
      await reset(ports[1 - which]!);
      assert.deepEqual(await alternate(ports), expected);
    }
  });
});

describe("retopy serve --redis", () => {
  const processes: CliProcess[] = [];
  after(() => {
    for (const child of processes) child.kill();
  });
  const cli = (args: string[], env: Record<string, string> = {}): CliProcess => {
    const child = new CliProcess(args, { env });
    processes.push(child);
    return child;
  };

  it("exits 1 with one line naming the (masked) address when Redis cannot be reached, before it listens", async () => {
    const port = await freePort();
    const child = cli(["serve", EXAMPLE, "--port", "0", "--redis", `redis://:hunter2@127.0.0.1:${port}/3`]);
    assert.deepEqual(await child.exit(20_000), { code: 1, signal: null });
    assert.match(child.stderr, new RegExp(`^retopy: RETOPY_REDIS_UNAVAILABLE: cannot connect to Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/3: .*ECONNREFUSED.* \\(--redis\\)\\n$`));
    assert.ok(!child.stdout.includes("hunter2") && !child.stderr.includes("hunter2"));
    assert.ok(!child.logs.some((line) => line.msg === "listening"));
  });

  it("reads REDIS_URL when --redis is not given, and the flag wins over it", async () => {
    const port = await freePort();
    const fromEnv = cli(["serve", EXAMPLE, "--port", "0"], { REDIS_URL: `redis://127.0.0.1:${port}` });
    assert.equal((await fromEnv.exit(20_000)).code, 1);
    assert.match(fromEnv.stderr, new RegExp(`127\\.0\\.0\\.1:${port}.*\\(REDIS_URL\\)`));
    const redis = await startRedisServer();
    try {
      const fromFlag = cli(["serve", EXAMPLE, "--port", "0", "--redis", `redis://127.0.0.1:${redis.port}`], { REDIS_URL: `redis://127.0.0.1:${port}` });
      const served = await fromFlag.port();
      const client = await TextClient.connect(served);
      assert.equal(await client.command("increment flag"), "1");
      client.close();
      assert.equal(await redis.client.get("counter:flag"), "1");
      fromFlag.child.kill("SIGTERM");
      assert.deepEqual(await fromFlag.exit(), { code: 0, signal: null });
    } finally {
      redis.stop();
    }
  });

  it("a URL that is not a Redis URL is a usage error (exit 2) naming the flag, password masked", async () => {
    const child = cli(["serve", EXAMPLE, "--redis", "http://user:hunter2@127.0.0.1:6379"]);
    assert.deepEqual(await child.exit(), { code: 2, signal: null });
    assert.match(child.stderr, /^retopy: --redis: invalid Redis URL http:\/\/user:\*\*\*@127\.0\.0\.1:6379\/?: the scheme must be redis:\/\/ or rediss:\/\//);
    assert.ok(!child.stderr.includes("hunter2"));
  });
});
