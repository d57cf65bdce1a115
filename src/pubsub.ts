/**
 * Publish/subscribe between the connections of one server, as Redis's channels work:
 * a connection subscribes to channels by name, and a message published to a channel is
 * pushed at once to every connection subscribed to it (`["message", channel, message]`).
 *
 * Each `RetopyServer` owns one `PubSub`, reachable as `server.pubsub` and, inside a
 * command, as `this.server.pubsub`; the built-in SUBSCRIBE, UNSUBSCRIBE, PUBLISH and
 * PUBSUB commands use it, and so can an application's own commands (the chat example).
 *
 * Subscriptions never outlive their connection: they are dropped as soon as the connection
 * closes (its `signal` aborts), and the server drops them again when it releases the socket.
 * Channels and subscribers are kept in insertion order, so listings are deterministic.
 */
import { GlobPattern } from "./glob.js";
import type { ConnectionInfo } from "./connection-info.js";
import type { ReplyValue } from "./reply.js";
import { checkReplyValue } from "./reply-support.js";

/** What one connection is subscribed to, and how it is dropped when the connection closes. */
interface Subscription {
  readonly channels: Set<string>;
  readonly onClose: () => void;
}

export class PubSub {
  /** Channel → subscribers; a channel without subscribers is removed. */
  readonly #channels = new Map<string, Set<ConnectionInfo>>();
  /** Connection → its channels; a connection without subscriptions is removed. */
  readonly #connections = new Map<ConnectionInfo, Subscription>();

  /**
   * Subscribes `connection` to `channel` (again is a no-op) and returns how many channels
   * the connection is now subscribed to, the count Redis's SUBSCRIBE reports. A connection
   * that is already closed is not subscribed (0).
   */
  subscribe(connection: ConnectionInfo, channel: string): number {
    let subscription = this.#connections.get(connection);
    if (!subscription) {
      const signal = connection.signal;
      if (signal.aborted) return 0;
      const onClose = () => void this.unsubscribeAll(connection);
      signal.addEventListener("abort", onClose, { once: true });
      subscription = { channels: new Set(), onClose };
      this.#connections.set(connection, subscription);
    }
    if (!subscription.channels.has(channel)) {
      subscription.channels.add(channel);
      let subscribers = this.#channels.get(channel);
      if (!subscribers) {
        subscribers = new Set();
        this.#channels.set(channel, subscribers);
      }
      subscribers.add(connection);
    }
    return subscription.channels.size;
  }

  /**
   * Unsubscribes `connection` from `channel` (not subscribed is a no-op) and returns how
   * many channels it is still subscribed to.
   */
  unsubscribe(connection: ConnectionInfo, channel: string): number {
    const subscription = this.#connections.get(connection);
    if (!subscription) return 0;
    if (subscription.channels.delete(channel)) this.#leave(connection, channel);
    if (subscription.channels.size === 0) this.#forget(connection, subscription);
    return subscription.channels.size;
  }

  /** Unsubscribes `connection` from every channel; returns those channels, in subscription order. */
  unsubscribeAll(connection: ConnectionInfo): string[] {
    const subscription = this.#connections.get(connection);
    if (!subscription) return [];
    const channels = [...subscription.channels];
    for (const channel of channels) this.#leave(connection, channel);
    subscription.channels.clear();
    this.#forget(connection, subscription);
    return channels;
  }

  /**
   * Pushes `["message", channel, message]` to every subscriber of `channel`, the publisher
   * included if it is subscribed, and returns how many connections received it.
   */
  publish(channel: string, message: ReplyValue): number {
    const subscribers = this.#channels.get(channel);
    if (!subscribers) return 0;
    // Checked once here, not by each subscriber's encoder: one bad message must not reach
    // some subscribers and then fail the publisher.
    if (typeof message !== "string" && !(message instanceof Uint8Array)) checkReplyValue(message);
    let receivers = 0;
    for (const connection of subscribers) {
      connection.push("message", channel, message);
      receivers++;
    }
    return receivers;
  }

  /**
   * Channels with at least one subscriber, in the order they were first subscribed;
   * with `pattern`, only those matching it (Redis glob, `src/glob.ts`).
   */
  channels(pattern?: string): string[] {
    const names = [...this.#channels.keys()];
    if (pattern === undefined) return names;
    const glob = new GlobPattern(pattern);
    return names.filter((name) => glob.matches(name));
  }

  /** The connections subscribed to `channel`, in subscription order. */
  subscribers(channel: string): ConnectionInfo[] {
    return [...(this.#channels.get(channel) ?? [])];
  }

  /** How many connections are subscribed to `channel` (Redis's PUBSUB NUMSUB). */
  subscriberCount(channel: string): number {
    return this.#channels.get(channel)?.size ?? 0;
  }

  /** The channels `connection` is subscribed to, in subscription order. */
  subscriptions(connection: ConnectionInfo): string[] {
    return [...(this.#connections.get(connection)?.channels ?? [])];
  }

  /** How many channels `connection` is subscribed to, without copying them. */
  subscriptionCount(connection: ConnectionInfo): number {
    return this.#connections.get(connection)?.channels.size ?? 0;
  }

  #leave(connection: ConnectionInfo, channel: string): void {
    const subscribers = this.#channels.get(channel);
    if (!subscribers) return;
    subscribers.delete(connection);
    if (subscribers.size === 0) this.#channels.delete(channel);
  }

  #forget(connection: ConnectionInfo, subscription: Subscription): void {
    this.#connections.delete(connection);
    connection.signal.removeEventListener("abort", subscription.onClose);
  }
}
