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

const isId = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * True when a relay message from a worker has the shape of its kind. The IPC channel is
 * open to the application's own code in the worker (`process.send`), and a message that
 * threw in the primary's handler would take the whole server down with it.
 */
export function isWorkerToPrimary(value: { retopy: string }): value is WorkerToPrimary {
  const m = value as Record<string, unknown>;
  switch (m.retopy) {
    case "pubsub:hello":
    case "pubsub:numpat":
      return isId(m.id);
    case "pubsub:update":
      return (m.kind === "channel" || m.kind === "pattern") && typeof m.name === "string" && isCount(m.count) && (m.id === undefined || isId(m.id));
    case "pubsub:publish":
      return isId(m.id) && typeof m.channel === "string" && typeof m.message === "string" && (m.base64 === undefined || m.base64 === true);
    case "pubsub:numsub":
      return isId(m.id) && Array.isArray(m.channels) && m.channels.every((channel) => typeof channel === "string");
    case "pubsub:channels":
      return isId(m.id) && (m.pattern === undefined || typeof m.pattern === "string");
    default:
      return false;
  }
}

export function toWire(message: string | Uint8Array): WirePayload {
  return typeof message === "string" ? { message } : { message: Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString("base64"), base64: true };
}

export function fromWire(payload: WirePayload): string | Buffer {
  return payload.base64 ? Buffer.from(payload.message, "base64") : payload.message;
}
