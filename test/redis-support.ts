/** A real redis-server and ioredis as test tools, on 127.0.0.1. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { type AddressInfo, createServer } from "node:net";
import { Redis, type RedisOptions } from "ioredis";

/** ioredis as a test client: connects to 127.0.0.1 once, never retries, never reconnects. */
export async function connectRedis(port: number, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    ...options,
  });
  client.on("error", () => undefined); // failures are asserted through the promises
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}

/** A port that was free a moment ago: listen on 0, note the port, close. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, "close");
  return port;
}

/** A real redis-server on a free port of 127.0.0.1 (no persistence), and an ioredis client to it. */
export interface RedisServer {
  readonly port: number;
  readonly process: ChildProcess;
  readonly client: Redis;
  /** Disconnects the client and stops the server. */
  stop(): void;
}

/**
 * `port`: a given one (to restart a stopped server where its clients look for it), else a free
 * one; `password`: started with `--requirepass` (the helper's own client logs in with it).
 */
export async function startRedisServer(options: { port?: number; password?: string } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const auth = options.password === undefined ? [] : ["--requirepass", options.password];
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...auth], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const client = await connectRedis(port, options.password === undefined ? {} : { password: options.password });
      return {
        port,
        process: child,
        client,
        stop: () => {
          client.disconnect();
          child.kill();
        },
      };
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** The next `count` pushes of `event` an ioredis subscriber gets, listened for from now on; rejects after `timeoutMs`. */
export function nextPushes(client: Redis, event: "message" | "pmessage", count: number, timeoutMs = 5000): Promise<string[][]> {
  return new Promise((resolve, reject) => {
    const got: string[][] = [];
    const on = (...args: string[]) => {
      got.push(args);
      if (got.length === count) finish();
    };
    const timer = setTimeout(() => {
      client.off(event, on);
      reject(new Error(`timed out after ${got.length}/${count} ${event}s: ${JSON.stringify(got.slice(-3))}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      client.off(event, on);
      resolve(got);
    };
    client.on(event, on);
  });
}
