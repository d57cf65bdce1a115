/**
 * Publish/subscribe as Redis's channels and patterns work: a connection subscribes to
 * channels by name (SUBSCRIBE) or to glob patterns (PSUBSCRIBE), and a message published to
 * a channel is pushed to every subscriber of it (`["message", channel, message]`) and of
 * every pattern matching it (`["pmessage", pattern, channel, message]`).
 *
 * Each `RetopyServer` owns one `PubSub`, reachable as `server.pubsub` and, inside a
 * command, as `this.server.pubsub`. This registry knows the local connections only; its
 * transport (src/pubsub/transport.ts) carries messages to and from other processes, and
 * answers the deployment-wide counts (`numsub`, `numpat`, `activeChannels`).
 *
 * Subscriptions never outlive their connection: they are dropped as soon as the connection
 * closes (its `signal` aborts), and the server drops them again when it releases the socket.
 * Channels, patterns and subscribers are kept in insertion order, so listings are deterministic.
 */
import { GlobPattern } from "../glob.js";
import type { ConnectionInfo } from "../connection-info.js";
import type { ReplyValue } from "../reply.js";
import { checkReplyValue } from "../reply-support.js";
import type { PubSubSink, PubSubTransport, SubscriptionKind } from "./transport.js";
import { InProcessTransport } from "./in-process.js";
import { createLogger } from "../logger.js";

/** What one connection listens to, and how it is dropped when the connection closes. */
interface Subscription {
  readonly channels: Set<string>;
  readonly patterns: Set<string>;
  readonly onClose: () => void;
}

interface PatternEntry {
  readonly glob: GlobPattern;
  readonly subscribers: Set<ConnectionInfo>;
}

export class PubSub {
  /** How messages reach other processes: in-process (the default), cluster relay or Redis. */
  readonly transport: PubSubTransport;
  /** Channel → subscribers; a channel without subscribers is removed. */
  readonly #channels = new Map<string, Set<ConnectionInfo>>();
  /** Pattern → its compiled glob and subscribers; a pattern without subscribers is removed. */
  readonly #patterns = new Map<string, PatternEntry>();
  /** Connection → what it listens to; a connection without subscriptions is removed. */
  readonly #connections = new Map<ConnectionInfo, Subscription>();
  /** Confirmations the transport still owes (remote subscriptions being made). */
  readonly #waiting = new Set<Promise<void>>();

  constructor(transport: PubSubTransport = new InProcessTransport(), logger = createLogger(false)) {
    this.transport = transport;
    const sink: PubSubSink = {
      deliver: (channel, message) => this.#deliver(channel, message),
      deliverToChannel: (channel, message) => this.#toChannel(channel, message),
      deliverToPattern: (pattern, channel, message) => this.#toPattern(pattern, channel, message),
      subscriberCount: (channel) => this.subscriberCount(channel),
      patternCount: () => this.#patterns.size,
      channels: (pattern) => this.channels(pattern),
    };
    transport.attach(sink, logger);
  }

  /**
   * Subscribes `connection` to `channel` (again is a no-op) and returns how many channels
   * and patterns the connection now listens to, the count Redis's SUBSCRIBE reports. A
   * connection that is already closed is not subscribed (0).
   */
  subscribe(connection: ConnectionInfo, channel: string): number {
    return this.#add(connection, "channel", channel);
  }

  /** Subscribes `connection` to the glob `pattern` (Redis's PSUBSCRIBE); returns its count of channels and patterns. */
  psubscribe(connection: ConnectionInfo, pattern: string): number {
    return this.#add(connection, "pattern", pattern);
  }

  /** Unsubscribes `connection` from `channel` (not subscribed is a no-op); returns its count of channels and patterns left. */
  unsubscribe(connection: ConnectionInfo, channel: string): number {
    return this.#remove(connection, "channel", channel);
  }

  /** Unsubscribes `connection` from `pattern` (Redis's PUNSUBSCRIBE); returns its count left. */
  punsubscribe(connection: ConnectionInfo, pattern: string): number {
    return this.#remove(connection, "pattern", pattern);
  }

  /** Unsubscribes `connection` from every channel; returns those channels, in subscription order. */
  unsubscribeAll(connection: ConnectionInfo): string[] {
    return this.#removeAll(connection, "channel");
  }

  /** Unsubscribes `connection` from every pattern; returns those patterns, in subscription order. */
  punsubscribeAll(connection: ConnectionInfo): string[] {
    return this.#removeAll(connection, "pattern");
  }

  /**
   * Resolves once the transport has confirmed every subscription made so far (a Redis
   * transport's SUBSCRIBE); undefined when nothing is pending, always so in-process.
   */
  confirmed(): Promise<void> | undefined {
    if (this.#waiting.size === 0) return undefined;
    return Promise.all(this.#waiting).then(() => undefined);
  }

  /**
   * Publishes `message` to `channel` through the transport: every subscriber of the channel
   * and of a matching pattern receives it, the publisher included if it listens. In-process
   * it is pushed at once and the number of connections that received it is returned; on the
   * cluster relay and Redis transports the result is a promise (see docs/pubsub.md).
   */
  publish(channel: string, message: ReplyValue): number | Promise<number> {
    // Checked once here, not by each subscriber's encoder: one bad message must not reach
    // some subscribers and then fail the publisher.
    if (typeof message !== "string" && !(message instanceof Uint8Array)) checkReplyValue(message);
    return this.transport.publish(channel, message);
  }

  /** PUBSUB NUMSUB: subscribers of each channel, for the deployment (per transport: docs/pubsub.md). */
  numsub(channels: readonly string[]): number[] | Promise<number[]> {
    return this.transport.numsub(channels);
  }

  /** PUBSUB NUMPAT: distinct patterns subscribed to, for the deployment. */
  numpat(): number | Promise<number> {
    return this.transport.numpat();
  }

  /** PUBSUB CHANNELS: channels with a subscriber anywhere in the deployment, those matching `pattern` if given. */
  activeChannels(pattern?: string): string[] | Promise<string[]> {
    return this.transport.channels(pattern);
  }

  /**
   * Channels with at least one subscriber on this server, in the order they were first
   * subscribed; with `pattern`, only those matching it (Redis glob, `src/glob.ts`).
   */
  channels(pattern?: string): string[] {
    const names = [...this.#channels.keys()];
    if (pattern === undefined) return names;
    const glob = new GlobPattern(pattern);
    return names.filter((name) => glob.matches(name));
  }

  /** Patterns with at least one subscriber on this server, in the order they were first subscribed. */
  patterns(): string[] {
    return [...this.#patterns.keys()];
  }

  /** The connections of this server subscribed to `channel`, in subscription order. */
  subscribers(channel: string): ConnectionInfo[] {
    return [...(this.#channels.get(channel) ?? [])];
  }

  /** How many connections of this server are subscribed to `channel`. */
  subscriberCount(channel: string): number {
    return this.#channels.get(channel)?.size ?? 0;
  }

  /** How many connections of this server are subscribed to `pattern`. */
  patternSubscriberCount(pattern: string): number {
    return this.#patterns.get(pattern)?.subscribers.size ?? 0;
  }

  /** The channels `connection` is subscribed to, in subscription order. */
  subscriptions(connection: ConnectionInfo): string[] {
    return [...(this.#connections.get(connection)?.channels ?? [])];
  }

  /** The patterns `connection` is subscribed to, in subscription order. */
  patternSubscriptions(connection: ConnectionInfo): string[] {
    return [...(this.#connections.get(connection)?.patterns ?? [])];
  }

  /** How many channels and patterns `connection` listens to, without copying them. */
  subscriptionCount(connection: ConnectionInfo): number {
    const subscription = this.#connections.get(connection);
    return subscription ? subscription.channels.size + subscription.patterns.size : 0;
  }

  #add(connection: ConnectionInfo, kind: SubscriptionKind, name: string): number {
    let subscription = this.#connections.get(connection);
    if (!subscription) {
      const signal = connection.signal;
      if (signal.aborted) return 0;
      const onClose = () => {
        this.unsubscribeAll(connection);
        this.punsubscribeAll(connection);
      };
      signal.addEventListener("abort", onClose, { once: true });
      subscription = { channels: new Set(), patterns: new Set(), onClose };
      this.#connections.set(connection, subscription);
    }
    const names = kind === "channel" ? subscription.channels : subscription.patterns;
    if (!names.has(name)) {
      names.add(name);
      let subscribers: Set<ConnectionInfo>;
      if (kind === "channel") {
        subscribers = this.#channels.get(name) ?? new Set();
        if (subscribers.size === 0) this.#channels.set(name, subscribers);
      } else {
        let entry = this.#patterns.get(name);
        if (!entry) this.#patterns.set(name, (entry = { glob: new GlobPattern(name), subscribers: new Set() }));
        subscribers = entry.subscribers;
      }
      subscribers.add(connection);
      this.#tell(kind, name, subscribers.size);
    }
    return subscription.channels.size + subscription.patterns.size;
  }

  #remove(connection: ConnectionInfo, kind: SubscriptionKind, name: string): number {
    const subscription = this.#connections.get(connection);
    if (!subscription) return 0;
    const names = kind === "channel" ? subscription.channels : subscription.patterns;
    if (names.delete(name)) this.#leave(connection, kind, name);
    const count = subscription.channels.size + subscription.patterns.size;
    if (count === 0) this.#forget(connection, subscription);
    return count;
  }

  #removeAll(connection: ConnectionInfo, kind: SubscriptionKind): string[] {
    const subscription = this.#connections.get(connection);
    if (!subscription) return [];
    const names = kind === "channel" ? subscription.channels : subscription.patterns;
    const left = [...names];
    for (const name of left) this.#leave(connection, kind, name);
    names.clear();
    if (subscription.channels.size + subscription.patterns.size === 0) this.#forget(connection, subscription);
    return left;
  }

  #leave(connection: ConnectionInfo, kind: SubscriptionKind, name: string): void {
    const subscribers = kind === "channel" ? this.#channels.get(name) : this.#patterns.get(name)?.subscribers;
    if (!subscribers?.delete(connection)) return;
    if (subscribers.size === 0) {
      if (kind === "channel") this.#channels.delete(name);
      else this.#patterns.delete(name);
    }
    this.#tell(kind, name, subscribers.size);
  }

  /** Tells the transport the new local count; keeps its confirmation, if it owes one, until it settles. */
  #tell(kind: SubscriptionKind, name: string, count: number): void {
    const confirmation = this.transport.update(kind, name, count);
    if (!confirmation) return;
    const settled = confirmation.then(
      () => void this.#waiting.delete(settled),
      () => void this.#waiting.delete(settled),
    );
    this.#waiting.add(settled);
  }

  #forget(connection: ConnectionInfo, subscription: Subscription): void {
    this.#connections.delete(connection);
    connection.signal.removeEventListener("abort", subscription.onClose);
  }

  #deliver(channel: string, message: ReplyValue): number {
    let receivers = this.#toChannel(channel, message);
    if (this.#patterns.size === 0) return receivers;
    for (const [pattern, entry] of this.#patterns) {
      if (entry.glob.matches(channel)) receivers += this.#toPattern(pattern, channel, message);
    }
    return receivers;
  }

  // Counted as pushed: a push may close a subscriber that cannot keep up (maxOutputBuffer),
  // which removes it from the set being walked.
  #toChannel(channel: string, message: ReplyValue): number {
    const subscribers = this.#channels.get(channel);
    if (!subscribers) return 0;
    let receivers = 0;
    for (const connection of subscribers) {
      connection.push("message", channel, message);
      receivers++;
    }
    return receivers;
  }

  #toPattern(pattern: string, channel: string, message: ReplyValue): number {
    const entry = this.#patterns.get(pattern);
    if (!entry) return 0;
    let receivers = 0;
    for (const connection of entry.subscribers) {
      connection.push("pmessage", pattern, channel, message);
      receivers++;
    }
    return receivers;
  }
}
