/**
 * What carries pub/sub between the connections of a deployment. The registry (`PubSub`,
 * src/pubsub/registry.ts) keeps which local connection listens to what; a transport moves
 * messages between processes and answers the deployment-wide counts.
 *
 * Registry → transport: how many local connections now listen to a channel or pattern
 * (`update`; 0 means the last one left), a message to publish, a count to answer.
 * Transport → registry (`PubSubSink`): a message arrived; push it to the local listeners.
 *
 * Three transports: in-process (the default), the cluster relay (workers of one machine,
 * through the node:cluster primary) and Redis (many machines).
 */
import type { Logger } from "pino";
import type { ReplyValue } from "../reply.js";

/** A channel subscription (SUBSCRIBE) or a pattern subscription (PSUBSCRIBE). */
export type SubscriptionKind = "channel" | "pattern";

/** What a transport hands messages to: the registry of one server. */
export interface PubSubSink {
  /** Pushes `message` to the local subscribers of `channel` and of every pattern matching it; returns how many pushes. */
  deliver(channel: string, message: ReplyValue): number;
  /** Pushes `["message", channel, message]` to the local subscribers of `channel` only. */
  deliverToChannel(channel: string, message: ReplyValue): number;
  /** Pushes `["pmessage", pattern, channel, message]` to the local subscribers of `pattern` only. */
  deliverToPattern(pattern: string, channel: string, message: ReplyValue): number;
  /** Local subscribers of `channel` (channel subscriptions only). */
  subscriberCount(channel: string): number;
  /** Distinct patterns subscribed to locally. */
  patternCount(): number;
  /** Local channels with a subscriber, those matching `pattern` if given. */
  channels(pattern?: string): string[];
}

export interface PubSubTransport {
  /** `in-process`, `cluster` or `redis`: for logs and errors. */
  readonly name: string;
  /** Called once, by the registry that owns the transport, before anything else. */
  attach(sink: PubSubSink, logger: Logger): void;
  /** Connects (a Redis transport): `listen()` waits for it, and fails if it fails. */
  start(): Promise<void>;
  /** Disconnects; `close()` calls it once the connections have drained. */
  close(): Promise<void>;
  /**
   * `count` local connections now listen to `name` (0: the last one left). A promise means
   * the transport confirms later that remote messages will arrive: SUBSCRIBE waits for it
   * before its confirmation, as Redis's confirmation promises every later message.
   */
  update(kind: SubscriptionKind, name: string, count: number): void | Promise<void>;
  /** Publishes; resolves with how many received it (see docs/pubsub.md for what each transport counts). */
  publish(channel: string, message: ReplyValue): number | Promise<number>;
  /** PUBSUB NUMSUB: subscribers of each channel. */
  numsub(channels: readonly string[]): number[] | Promise<number[]>;
  /** PUBSUB NUMPAT: distinct patterns subscribed to. */
  numpat(): number | Promise<number>;
  /** PUBSUB CHANNELS: channels with at least one subscriber, those matching `pattern` if given. */
  channels(pattern?: string): string[] | Promise<string[]>;
}

/** The bytes of a message that leaves the process: a string or bytes; anything else is refused. */
export function wireMessage(message: ReplyValue, transport: string): string | Uint8Array {
  if (typeof message === "string" || message instanceof Uint8Array) return message;
  throw new TypeError(`the ${transport} pub/sub transport carries strings and bytes only, not ${describe(message)}`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? (value.constructor?.name ?? "an object") : typeof value;
}
