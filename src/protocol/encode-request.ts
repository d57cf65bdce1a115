/**
 * Requests as RESP arrays of bulk strings: binary-safe for Buffers, and the only request
 * form every retopy connection (and Redis) accepts whatever its protocol. Used by the
 * client (src/client) and by `app.inject()`.
 */

/** One argument of a call: strings are sent as UTF-8, numbers as their decimal text. */
export type Argument = string | number | bigint | Buffer | Uint8Array;

/** Encodes `args` as one RESP request; small arguments share one buffer. */
export function encodeRequest(args: readonly Argument[]): Buffer {
  const parts: Buffer[] = [];
  let text = `*${args.length}\r\n`;
  for (const arg of args) {
    if (typeof arg === "string" || typeof arg === "number" || typeof arg === "bigint") {
      const value = String(arg);
      text += `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
    } else {
      text += `$${arg.length}\r\n`;
      parts.push(Buffer.from(text), Buffer.isBuffer(arg) ? arg : Buffer.from(arg.buffer, arg.byteOffset, arg.length));
      text = "\r\n";
    }
  }
  if (parts.length === 0) return Buffer.from(text);
  parts.push(Buffer.from(text));
  return Buffer.concat(parts);
}
