import { isUtf8 } from "node:buffer";
import { type ErrorReply, type ReplyEncoder, type ReplyValue, Status, Verbatim, VERBATIM_BRAND } from "../reply.js";
import { fromOtherCopy, UnsupportedReplyError } from "../reply-support.js";
import { quoteBytes } from "./quote-args.js";
import type { ReplyOutput } from "./reply-output.js";

/**
 * The text protocol's replies, as the original retopy wrote them for telnet users: every
 * `write()` is one line ending in CRLF, numbers are bare digits (`increment a` → `1`),
 * strings are sent as given (`+OK`, `+PONG`) and errors are `-ERR message`.
 *
 * Lists put one item per line and maps one `key: value` per line, so built-ins such as
 * `commands` and `stats` read naturally in a terminal.
 *
 * A value never spans lines: whatever a client stored comes back as exactly the lines its
 * shape says, so `set k "v\r\n+OK"` cannot forge a second reply. A string with a control
 * character (CR, LF, ESC, ... and Unicode's C1 controls and line separators), or one that
 * starts with `"`, is shown as redis-cli shows it: double-quoted, with `\n`, `\r`, `\t`,
 * `\"`, `\\` and `\xHH` escapes of its UTF-8 bytes (`splitArgs` reads it back). Only a
 * {@link Verbatim} text keeps its line breaks, one line each: text a handler meant for people.
 * A value outside the supported set (src/reply-support.ts) throws UnsupportedReplyError.
 */
const CRLF = "\r\n";

/** What a terminal could take as a line break or a control sequence. */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;
const QUOTE = 0x22;

/** A string as one safe line: itself when that is unambiguous, else quoted. */
function lineText(text: string): string {
  return text.charCodeAt(0) === QUOTE || UNSAFE.test(text) ? quoteBytes(Buffer.from(text, "utf8")) : text;
}

/** Bytes as one safe line: as text when they are UTF-8 (nothing is lost), else quoted byte by byte. */
function bytesText(bytes: Uint8Array): string {
  return isUtf8(bytes) ? lineText(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")) : quoteBytes(bytes);
}

/**
 * An error message on the one line of `-CODE message`: line breaks read as spaces (a long
 * message wrapped in the source), other control characters as `\xHH`.
 */
function errorText(message: string): string {
  const folded = message.replace(/\r\n|[\r\n\u2028\u2029]/g, " ");
  return UNSAFE.test(folded) ? folded.replace(new RegExp(UNSAFE.source, "g"), (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`) : folded;
}

function scalarText(value: ReplyValue): string {
  if (value === null || value === undefined) return "(nil)";
  switch (typeof value) {
    case "string":
      return lineText(value);
    case "number":
    case "bigint":
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    default:
      break;
  }
  if (value instanceof Uint8Array) return bytesText(value);
  if (value instanceof Error) return `-ERR ${errorText(String(value.message))}`;
  if (value instanceof Status) return `+${value.text}`;
  if (value instanceof Verbatim) return lineText(value.text);
  const adopted = typeof value === "object" ? fromOtherCopy(value) : undefined;
  if (adopted !== undefined) return scalarText(adopted);
  // A function, a class instance, a Date...: its String() is source code or `[object Object]`.
  throw new UnsupportedReplyError(value);
}

function appendValue(lines: string[], value: ReplyValue): void {
  if (Array.isArray(value)) {
    if (value.length === 0) lines.push("(empty)");
    for (const item of value as readonly ReplyValue[]) appendValue(lines, item);
    return;
  }
  if (value instanceof Set) {
    if (value.size === 0) lines.push("(empty)");
    for (const item of value as ReadonlySet<ReplyValue>) appendValue(lines, item);
    return;
  }
  if (value instanceof Map) {
    if (value.size === 0) lines.push("(empty)");
    for (const [key, item] of value as ReadonlyMap<unknown, ReplyValue>) lines.push(`${inlineText(key as ReplyValue)}: ${inlineText(item)}`);
    return;
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) lines.push("(empty)");
    for (const [key, item] of entries) lines.push(`${lineText(key)}: ${inlineText(item)}`);
    return;
  }
  if (value instanceof Verbatim) {
    for (const line of value.text.split(/\r\n|\n|\r/)) lines.push(lineText(line));
    return;
  }
  // Another copy of retopy's Verbatim keeps its lines too (its Status goes by scalarText).
  if (value !== null && typeof value === "object" && (value as { [VERBATIM_BRAND]?: unknown })[VERBATIM_BRAND] === true) {
    const adopted = fromOtherCopy(value);
    if (adopted !== undefined) {
      appendValue(lines, adopted);
      return;
    }
  }
  lines.push(scalarText(value));
}

/** A nested value shown after `key: ` stays on that one line. */
function inlineText(value: ReplyValue): string {
  if (Array.isArray(value)) return (value as readonly ReplyValue[]).map(inlineText).join(" ");
  if (value instanceof Set) return [...(value as ReadonlySet<ReplyValue>)].map(inlineText).join(" ");
  if (value instanceof Map || isPlainObject(value)) {
    const lines: string[] = [];
    appendValue(lines, value);
    return lines.join(", ");
  }
  return scalarText(value); // one line already (a Verbatim's text too, quoted)
}

function isPlainObject(value: ReplyValue): value is { readonly [key: string]: ReplyValue } {
  if (value === null || typeof value !== "object") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export const textReplyEncoder: ReplyEncoder = {
  encodeValue(value: ReplyValue, out: ReplyOutput): void {
    // Fast path: one scalar, the common case for counters and pings.
    if (typeof value === "number" || (typeof value === "string" && value.charCodeAt(0) !== QUOTE && !UNSAFE.test(value))) {
      out.text(`${value}${CRLF}`);
      return;
    }
    if (value instanceof Status) {
      out.text(value.line);
      return;
    }
    const lines: string[] = [];
    appendValue(lines, value);
    out.text(lines.join(CRLF) + CRLF);
  },
  encodeValues(values: readonly ReplyValue[], out: ReplyOutput): void {
    if (values.length === 1) {
      this.encodeValue(values[0], out);
      return;
    }
    const lines: string[] = [];
    for (const value of values) appendValue(lines, value);
    out.text(lines.join(CRLF) + CRLF);
  },
  encodeError(error: ErrorReply, out: ReplyOutput): void {
    out.text(`-${error.code} ${errorText(error.message)}${CRLF}`);
  },
  encodePush(values: readonly ReplyValue[], out: ReplyOutput): void {
    // A push is one line in a terminal: `message news hello`.
    out.text(`${values.map(inlineText).join(" ")}${CRLF}`);
  },
};
