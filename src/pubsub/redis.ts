/**
 * The Redis transport: every retopy process of a deployment subscribes, on one Redis, to
 * the channels and patterns its own connections listen to, and publishes there; Redis
 * fans each message out to the processes that need it. Two connections of retopy's own
 * client: one subscribed (its pushes become local deliveries), one for PUBLISH and PUBSUB.
 *
 * Every delivery, a process's own publishes included, comes back through Redis, so each
 * subscriber sees one publisher's messages to a channel in the order they were published.
 *
 * A lost link is re-made with backoff and the subscriptions are made again (the client does
 * both). Meanwhile PUBLISH and PUBSUB reply an error rather than a silent 0, and messages
 * published by other processes never arrive here: Redis keeps nothing for a subscriber
 * that is gone. Both are logged at warn, when the link drops and when it is back.
 */
import type { Logger } from "pino";
// Types only: the client module is loaded by start(), so a server without this transport never loads it.
import type { RetopyClient } from "../client/client.js";
import { ClientError } from "../client/errors.js";
import type { ReconnectingEvent } from "../client/reconnect.js";
import type { RetopyClientOptions } from "../client/options.js";
import type { BufferReply, Reply } from "../client/reply.js";
import { ReplyError } from "../protocol/resp-reader.js";
import { refuse } from "../errors.js";
import { WireErrors } from "../protocol/wire-errors.js";
import type { ReplyValue } from "../reply.js";
import { type PubSubSink, type PubSubTransport, type SubscriptionKind, wireMessage } from "./transport.js";

/** Where the Redis transport connects: retopy client options (`parseRedisUrl` makes them from a URL). */
export type RedisPubSubOptions = RetopyClientOptions;

/**
 * How long a call to Redis may wait for its answer. A Redis that hangs (stopped, or a network
 * that drops packets without a reset) closes no socket: without it, PUBLISH would never
 * reply and SUBSCRIBE never be confirmed, holding every command the client sent after them.
 */
export const REDIS_CALL_TIMEOUT_MS = 5000;

const SUBSCRIBE = { channel: "SUBSCRIBE", pattern: "PSUBSCRIBE" } as const;
const UNSUBSCRIBE = { channel: "UNSUBSCRIBE", pattern: "PUNSUBSCRIBE" } as const;

export class RedisTransport implements PubSubTransport {
  readonly name = "redis";
  readonly #options: RedisPubSubOptions;
  #sink: PubSubSink | null = null;
  #logger: Logger | null = null;
  /** Receives the messages: subscribed to what the local connections listen to. */
  #subscriber: RetopyClient | null = null;
  /** PUBLISH and PUBSUB. */
  #publisher: RetopyClient | null = null;
  /** What is subscribed on Redis (or will be once connected), as `kind:name`. */
  readonly #subscribed = new Set<string>();
  #starting: Promise<void> | null = null;
  #closed = false;

  constructor(options: RedisPubSubOptions) {
    this.#options = options;
  }

  /** `host:port` of the Redis, for logs and errors (never the password). */
  get address(): string {
    const host = this.#options.host ?? "127.0.0.1";
    return `${host.includes(":") ? `[${host}]` : host}:${this.#options.port}`;
  }

  attach(sink: PubSubSink, logger: Logger): void {
    this.#sink = sink;
    this.#logger = logger.child({ pubsub: "redis", redis: this.address });
  }

  start(): Promise<void> {
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = null; // listen() may be retried
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#closed = false;
    let subscriber: RetopyClient | null = null;
    try {
      const { RetopyClient } = await import("../client/client.js");
      subscriber = await RetopyClient.connect({ ...this.#options, reconnect: { ...reconnectOf(this.#options), whileDisconnected: "queue" } });
      const publisher = await RetopyClient.connect({ ...this.#options, reconnect: { ...reconnectOf(this.#options), whileDisconnected: "reject" } });
      if (this.#closed) {
        // close() came while connecting: nothing may stay open behind it.
        subscriber.destroy();
        publisher.destroy();
        throw new Error("the server was closed");
      }
      this.#watch(subscriber, "subscriber");
      this.#watch(publisher, "publisher");
      subscriber.on("pushBuffer", (values: BufferReply[]) => this.#onPush(values));
      this.#subscriber = subscriber;
      this.#publisher = publisher;
    } catch (error) {
      subscriber?.destroy();
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot reach Redis for pub/sub at ${this.address}: ${reason}`, { cause: error });
    }
    // Subscriptions made before the link existed (by application code before listen()).
    for (const key of this.#subscribed) this.#send(SUBSCRIBE, key);
    this.#logger?.info("pub/sub through Redis");
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#starting = null; // a server whose listen() failed may start it again
    const clients = [this.#subscriber, this.#publisher];
    this.#subscriber = this.#publisher = null;
    await Promise.all(clients.map((client) => client?.close()));
  }

  update(kind: SubscriptionKind, name: string, count: number): void | Promise<void> {
    const key = `${kind}:${name}`;
    if (count > 0 && !this.#subscribed.has(key)) {
      this.#subscribed.add(key);
      return this.#send(SUBSCRIBE, key);
    }
    if (count === 0 && this.#subscribed.delete(key)) void this.#send(UNSUBSCRIBE, key);
  }

  /**
   * Sends a (P)(UN)SUBSCRIBE; the promise settles once Redis confirmed it, or at once while
   * the link is down (the call waits in the client's queue; SUBSCRIBE must not wait on it).
   */
  #send(commands: typeof SUBSCRIBE | typeof UNSUBSCRIBE, key: string): Promise<void> | undefined {
    const subscriber = this.#subscriber;
    if (!subscriber || this.#closed) return undefined;
    const colon = key.indexOf(":");
    const kind = key.slice(0, colon) as SubscriptionKind;
    // Past the timeout the subscription is confirmed here anyway: Redis makes it once it answers, or on the reconnect.
    const call = subscriber.callWith({ timeout: REDIS_CALL_TIMEOUT_MS }, commands[kind], key.slice(colon + 1)).then(
      () => undefined,
      (error: unknown) => {
        if (!this.#closed) this.#logger?.warn({ err: error, [kind]: key.slice(colon + 1) }, `${commands[kind]} on Redis failed`);
      },
    );
    return subscriber.isReconnecting ? undefined : call;
  }

  async publish(channel: string, message: ReplyValue): Promise<number> {
    const reply = await this.#call("PUBLISH", channel, wireMessage(message, this.name));
    return typeof reply === "number" ? reply : Number(reply);
  }

  async numsub(channels: readonly string[]): Promise<number[]> {
    const reply = await this.#call("PUBSUB", "NUMSUB", ...channels);
    // [channel, count, ...] (a map if Redis ever answers RESP3 with one).
    const counts = reply instanceof Map ? [...reply.values()] : Array.isArray(reply) ? reply.filter((_, i) => i % 2 === 1) : [];
    return counts.map((count) => Number(count));
  }

  async numpat(): Promise<number> {
    return Number(await this.#call("PUBSUB", "NUMPAT"));
  }

  async channels(pattern?: string): Promise<string[]> {
    const reply = await this.#call("PUBSUB", "CHANNELS", ...(pattern === undefined ? [] : [pattern]));
    return Array.isArray(reply) ? reply.map(String) : [];
  }

  /** A call on the publishing link; its failures become error replies that say what happened. */
  async #call(command: string, ...args: Array<string | Uint8Array>): Promise<Reply> {
    const publisher = this.#publisher;
    if (!publisher || publisher.isReconnecting || !publisher.isOpen) throw refuse(WireErrors.pubsubLinkDown);
    try {
      return await publisher.callWith({ timeout: REDIS_CALL_TIMEOUT_MS }, command, ...args);
    } catch (error) {
      if (error instanceof ReplyError) throw refuse(WireErrors.pubsubRedisError(error.message));
      if (error instanceof ClientError && error.code === "TIMEOUT") throw refuse(WireErrors.pubsubNoAnswer);
      if (error instanceof ClientError && error.code === "CONNECTION_LOST") throw refuse(WireErrors.pubsubLinkLost);
      throw refuse(WireErrors.pubsubLinkDown);
    }
  }

  #onPush(values: BufferReply[]): void {
    const kind = Buffer.isBuffer(values[0]) ? values[0].toString("latin1") : String(values[0]);
    const sink = this.#sink;
    if (!sink) return;
    if (kind === "message" && values.length === 3) {
      sink.deliverToChannel(text(values[1]), values[2] as Buffer);
    } else if (kind === "pmessage" && values.length === 4) {
      sink.deliverToPattern(text(values[1]), text(values[2]), values[3] as Buffer);
    }
  }

  /** Logs a link's drops and returns at warn, saying what they cost. */
  #watch(client: RetopyClient, link: "subscriber" | "publisher"): void {
    client.on("reconnecting", (event: ReconnectingEvent) => {
      if (this.#closed) return;
      if (event.attempt === 1) {
        this.#logger?.warn(
          { link, err: event.error },
          link === "subscriber"
            ? "pub/sub link to Redis lost; reconnecting. Messages published by other processes until it is back never arrive here"
            : "pub/sub link to Redis lost; reconnecting. PUBLISH and PUBSUB reply an error until it is back",
        );
      } else {
        this.#logger?.debug({ link, attempt: event.attempt, delay: event.delay, err: event.error }, "pub/sub reconnect attempt failed");
      }
    });
    client.on("reconnected", (event: { attempt: number }) => {
      if (this.#closed) return;
      this.#logger?.warn(
        { link, attempts: event.attempt, ...(link === "subscriber" && { subscriptions: this.#subscribed.size }) },
        link === "subscriber"
          ? "pub/sub link to Redis is back, subscriptions made again; messages published while it was down were lost"
          : "pub/sub link to Redis is back; PUBLISH works again",
      );
    });
    client.on("close", (error: Error) => {
      if (!this.#closed) this.#logger?.error({ link, err: error }, "pub/sub link to Redis closed for good");
    });
  }
}

function reconnectOf(options: RedisPubSubOptions): object {
  return typeof options.reconnect === "object" ? options.reconnect : {};
}

function text(value: BufferReply | undefined): string {
  return Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
}
