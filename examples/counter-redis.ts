/**
 * The counter example with its counts in Redis instead of a Map: every `retopy serve`
 * process (every worker, every machine) that points at the same Redis gives the same
 * answers, and the counts outlive a restart. Ping and the login come from examples/counter.ts.
 *
 *   retopy serve examples/counter-redis.ts --redis redis://127.0.0.1:6379
 *   REDIS_URL=redis://127.0.0.1:6379/2 retopy serve examples/counter-redis.ts   # database 2
 *   npx tsx examples/counter-redis.ts [port]   # Redis from REDIS_URL, else 127.0.0.1:6379
 *   telnet 127.0.0.1 8000                      # first line is the header, then commands
 */
import { pathToFileURL } from "node:url";
import { Application, CommandError, CommandHandler, command, parameter, passwordAuthenticator, RetopyServer, type RetopyServerOptions, status } from "retopy";
import { ReplyError } from "retopy/client";
import { LoginHandler, PingHandler } from "./counter.js";

/** Every key this app writes starts with it, so it can share a Redis with other apps. */
const PREFIX = "counter:";

class RedisCounterHandler extends CommandHandler {
  /** The Redis key of the `key` argument. */
  redisKey(): string {
    return PREFIX + this.getArgument("key");
  }

  /** A Redis error reply (a key holding a non-integer) is the client's answer, not a server bug. */
  async callRedis(command: string, ...args: string[]): Promise<unknown> {
    try {
      return await this.server.redis.call(command, ...args);
    } catch (error) {
      if (error instanceof ReplyError) throw new CommandError(error.message, error.code);
      throw error; // Redis unreachable: the server replies a clear error itself
    }
  }

  @parameter({ name: "key", help: "the counter's name" })
  @command({ help: "Increments the number stored at key by one; a missing key starts at 0." })
  async increment(): Promise<number> {
    return Number(await this.callRedis("INCR", this.redisKey()));
  }

  @parameter({ name: "key", help: "the counter's name" })
  @command({ help: "Decrements the number stored at key by one; a missing key starts at 0." })
  async decrement(): Promise<number> {
    return Number(await this.callRedis("DECR", this.redisKey()));
  }

  @parameter({ name: "key", help: "the counter's name" })
  @command({ help: "Gets the value of key; an error if the key does not exist." })
  async get(): Promise<number> {
    const value = await this.callRedis("GET", this.redisKey());
    if (value === null) throw new CommandError(`${this.getArgument("key")} Not found`);
    return Number(value);
  }

  @parameter({ name: "key", help: "the counter's name" })
  @parameter({ name: "value", type: "int", help: "an integer" })
  @command({ help: "Sets key to hold the integer value, overwriting any old value." })
  async set(): Promise<number> {
    const value = this.getArgument<number>("value");
    await this.callRedis("SET", this.redisKey(), String(value));
    return value;
  }

  @parameter({ name: "key", help: "counters to remove", variadic: true })
  @command({ help: "Removes the specified keys. A key that does not exist is ignored." })
  async rem(): Promise<void> {
    // One DEL per key rather than one DEL of all: under Redis Cluster the keys may live on different nodes.
    await Promise.all(this.getArguments("key").map((key) => this.callRedis("DEL", PREFIX + key)));
    this.write(status("OK"));
  }
}

export const app = new Application([RedisCounterHandler, PingHandler, LoginHandler], {
  defaultHandlers: true,
  authenticate: passwordAuthenticator({ myusername: "mypass" }),
});
export default app;

/** `retopy serve` applies these under its flags: `--redis` (or REDIS_URL) wins over this default. */
export const options: RetopyServerOptions = { redis: process.env.REDIS_URL || "redis://127.0.0.1:6379" };

// Run directly (`tsx examples/counter-redis.ts [port]`) as well as through `retopy serve`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = new RetopyServer(app, options);
  await server.listen(Number(process.argv[2] ?? 8000));
  process.once("SIGINT", () => void server.close());
}
