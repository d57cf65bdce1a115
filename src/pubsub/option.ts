/**
 * The server's `pubsub` option, made into a transport: absent for in-process, a transport
 * object as given, a `redis://` / `rediss://` URL (parsed by src/redis-url.ts, the one
 * parser of them) or retopy client options for the Redis transport.
 */
import { RetopyError } from "../errors.js";
import { parseRedisUrl } from "../redis-url.js";
import { InProcessTransport } from "./in-process.js";
import { type RedisPubSubOptions, RedisTransport } from "./redis.js";
import type { PubSubTransport } from "./transport.js";

export type PubSubOption = PubSubTransport | string | RedisPubSubOptions;

export function pubsubTransport(option: PubSubOption | undefined): PubSubTransport {
  if (option === undefined) return new InProcessTransport();
  if (typeof option === "string") return new RedisTransport(parseRedisUrl(option));
  if (typeof option === "object" && option !== null) {
    if (typeof (option as PubSubTransport).attach === "function") return option as PubSubTransport;
    const { port } = option as RedisPubSubOptions;
    if (Number.isInteger(port) && port > 0 && port < 65536) return new RedisTransport(option as RedisPubSubOptions);
  }
  throw new RetopyError("RETOPY_INVALID_OPTION", "pubsub must be a transport, a redis:// URL or Redis client options with a port");
}
