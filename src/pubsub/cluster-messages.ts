/**
 * The IPC messages of the cluster relay, between a worker's `ClusterRelayTransport` and the
 * primary's `relayPubSub`. Every one is an object tagged `{ retopy: "pubsub:<kind>" }`, so
 * other users of the same channel (the `--workers` supervisor) can tell them from theirs.
 */

/** A message's bytes over IPC: JSON carries strings, so bytes travel as base64. */
export interface WirePayload {
  readonly message: string;
  readonly base64?: true;
}

export type WorkerToPrimary =
  | { readonly retopy: "pubsub:hello"; readonly id: number }
  | { readonly retopy: "pubsub:update"; readonly kind: "channel" | "pattern"; readonly name: string; readonly count: number; readonly id?: number }
  | ({ readonly retopy: "pubsub:publish"; readonly id: number; readonly channel: string } & WirePayload)
  | { readonly retopy: "pubsub:numsub"; readonly id: number; readonly channels: readonly string[] }
  | { readonly retopy: "pubsub:numpat"; readonly id: number }
  | { readonly retopy: "pubsub:channels"; readonly id: number; readonly pattern?: string };

export type PrimaryToWorker =
  | ({ readonly retopy: "pubsub:message"; readonly channel: string } & WirePayload)
  | { readonly retopy: "pubsub:reply"; readonly id: number; readonly value: unknown };

/** True for an IPC message of the pub/sub relay (another engineer's kinds are ignored). */
export function isRelayMessage(value: unknown): value is { retopy: string } {
  return typeof value === "object" && value !== null && typeof (value as { retopy?: unknown }).retopy === "string" && (value as { retopy: string }).retopy.startsWith("pubsub:");
}

export function toWire(message: string | Uint8Array): WirePayload {
  return typeof message === "string" ? { message } : { message: Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString("base64"), base64: true };
}

export function fromWire(payload: WirePayload): string | Buffer {
  return payload.base64 ? Buffer.from(payload.message, "base64") : payload.message;
}
