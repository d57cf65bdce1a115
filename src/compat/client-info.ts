/**
 * Per-connection facts for HELLO and CLIENT: the protocol number, the library a client
 * announced with CLIENT SETINFO, the `id=… addr=…` line, and Redis's rule for names.
 */
import { refuse } from "../errors.js";
import type { ConnectionInfo } from "../connection-info.js";
import { WireErrors } from "../protocol/wire-errors.js";
import { PROTOCOLS } from "../protocol/protocols.js";

/** Redis accepts client names and library infos made of `!`..`~` only. */
export const PRINTABLE = /^[!-~]*$/;

export function protoNumber(connection: ConnectionInfo): 2 | 3 {
  return PROTOCOLS[connection.protocol].respVersion === 3 ? 3 : 2;
}

/** What CLIENT SETINFO recorded, per connection (the connection is not ours to extend). */
export const libraryInfo = new WeakMap<ConnectionInfo, { name?: string; version?: string }>();

/** `id=… addr=… name=… user=… proto=…`, the line CLIENT INFO and CLIENT LIST print. */
export function clientLine(connection: ConnectionInfo): string {
  const info = libraryInfo.get(connection);
  const host = connection.remoteAddress ?? "";
  const addr = `${host.includes(":") ? `[${host}]` : host}:${connection.remotePort ?? 0}`;
  return [
    `id=${connection.clientId}`,
    `addr=${addr}`,
    `name=${connection.clientName ?? ""}`,
    `user=${connection.user ?? ""}`,
    `proto=${connection.protocol}`,
    `resp=${PROTOCOLS[connection.protocol].respVersion}`,
    `lib-name=${info?.name ?? ""}`,
    `lib-ver=${info?.version ?? ""}`,
  ].join(" ");
}

/** Redis's rule for client names: printable, no spaces; the empty name clears it. */
export function checkClientName(name: string): void {
  if (!PRINTABLE.test(name)) throw refuse(WireErrors.clientNameInvalid);
}
