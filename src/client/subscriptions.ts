/**
 * Pub/sub on the client: SUBSCRIBE and its kin are answered by confirmation pushes rather
 * than a reply; in RESP2, messages are plain arrays that must not settle a call; and what
 * was subscribed is subscribed again after a reconnect.
 */
import type { Argument } from "../protocol/encode-request.js";
import type { Call } from "./pipeline.js";
import type { BufferReply } from "./reply.js";

/** Subscription commands are answered by confirmation pushes, not by a reply. */
const SUBSCRIPTION = new Set(["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"]);
/** RESP2 arrays that are messages, not replies, once the client has subscribed. */
const MESSAGE_KINDS = new Set(["message", "pmessage", "smessage"]);

/** What a subscription call waits for: `remaining` confirmations of `kind` (-1: until the count is 0). */
export interface Confirmations {
  readonly kind: string;
  remaining: number;
}

/** The confirmations that answer the call `args`, or undefined when a reply does. */
export function confirmationsOf(args: readonly Argument[]): Confirmations | undefined {
  const kind = String(args[0]).toLowerCase();
  if (!SUBSCRIPTION.has(kind)) return undefined;
  // UNSUBSCRIBE with no names is confirmed once per name subscribed: wait for the count to reach 0.
  return { kind, remaining: args.length > 1 ? args.length - 1 : kind.endsWith("unsubscribe") ? -1 : 1 };
}

/** The lower-cased first element of a push or array, as its kind. */
function kindOf(values: readonly BufferReply[]): string {
  return Buffer.isBuffer(values[0]) ? values[0].toString("latin1").toLowerCase() : "";
}

export class Subscriptions {
  /** Channels and patterns subscribed, as the last confirmation said. */
  #count = 0;
  /** What to SUBSCRIBE again after a reconnect, by subscribe command; names kept as latin1 so bytes survive. */
  readonly #names = new Map<string, Set<string>>();

  /** RESP2: whether an array is a pub/sub message or a confirmation `awaited` by the oldest call, not a reply. */
  isMessage(value: BufferReply, awaited: Confirmations | undefined): boolean {
    if (!Array.isArray(value) || !Buffer.isBuffer(value[0])) return false;
    const kind = kindOf(value);
    if (this.#count > 0 && MESSAGE_KINDS.has(kind)) return true;
    return awaited?.kind === kind;
  }

  /** Whether the push `values` confirms the subscription call `awaited` (rather than being a message). */
  confirms(values: readonly BufferReply[], awaited: Confirmations | undefined): awaited is Confirmations {
    return awaited !== undefined && awaited.kind === kindOf(values) && values.length === 3;
  }

  /** Takes a confirmation of `awaited`: the subscription count once the call has all of them, undefined before. */
  confirm(values: readonly BufferReply[], awaited: Confirmations): number | undefined {
    const count = typeof values[2] === "number" ? values[2] : 0;
    this.#count = count;
    this.#track(awaited.kind, values[1]);
    if (awaited.remaining > 0) awaited.remaining--;
    return awaited.remaining === 0 || (awaited.remaining === -1 && count === 0) ? count : undefined;
  }

  /** The connection dropped: the server has forgotten our subscriptions. */
  dropped(): void {
    this.#count = 0;
  }

  /** The calls that subscribe again to what was subscribed; forgets it, as their confirmations will track it again. */
  takeResubscribe(): Call[] {
    const calls = [...this.#names]
      .filter(([, names]) => names.size > 0)
      .map(([kind, names]) => ({ args: [kind.toUpperCase(), ...[...names].map((name) => Buffer.from(name, "latin1"))], buffers: false }));
    this.#names.clear();
    return calls;
  }

  /** Keeps the set of channels (patterns, shard channels) to subscribe again after a reconnect. */
  #track(kind: string, name: BufferReply | undefined): void {
    if (!Buffer.isBuffer(name) && typeof name !== "string") return;
    const unsubscribe = kind.endsWith("unsubscribe");
    const key = unsubscribe ? kind.replace("unsubscribe", "subscribe") : kind;
    let names = this.#names.get(key);
    if (!names) this.#names.set(key, (names = new Set()));
    const text = Buffer.isBuffer(name) ? name.toString("latin1") : name;
    if (unsubscribe) names.delete(text);
    else names.add(text);
  }
}
