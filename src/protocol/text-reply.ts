import { type ErrorReply, type ReplyEncoder, type ReplyValue, Status, Verbatim } from "../reply.js";
import type { ReplyOutput } from "./reply-output.js";

/**
 * The text protocol's replies, as the original retopy wrote them for telnet users: every
 * `write()` is one line ending in CRLF, numbers are bare digits (`increment a` → `1`),
 * strings are sent as given (`+OK`, `+PONG`) and errors are `-ERR message`.
 *
 * Lists put one item per line and maps one `key: value` per line, so built-ins such as
 * `commands` and `stats` read naturally in a terminal.
 */
const CRLF = "\r\n";

/** Keeps every reply on CRLF-terminated lines even if a handler wrote a bare `\n`. */
function normalizeLines(text: string): string {
  return text.includes("\n") || text.includes("\r") ? text.replace(/\r?\n|\r/g, CRLF) : text;
}

function scalarText(value: ReplyValue): string {
  if (value === null || value === undefined) return "(nil)";
  switch (typeof value) {
    case "string":
      return normalizeLines(value);
    case "number":
    case "bigint":
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    default:
      break;
  }
  if (value instanceof Uint8Array) return normalizeLines(Buffer.from(value).toString("utf8"));
  if (value instanceof Error) return `-ERR ${normalizeLines(value.message)}`;
  if (value instanceof Status) return `+${value.text}`;
  if (value instanceof Verbatim) return normalizeLines(value.text);
  return normalizeLines(String(value));
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
    for (const [key, item] of value) lines.push(`${String(key)}: ${inlineText(item)}`);
    return;
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) lines.push("(empty)");
    for (const [key, item] of entries) lines.push(`${key}: ${inlineText(item)}`);
    return;
  }
  lines.push(scalarText(value));
}

/** A nested value shown after `key: ` stays on that one line. */
function inlineText(value: ReplyValue): string {
  if (Array.isArray(value)) return (value as readonly ReplyValue[]).map(inlineText).join(" ");
  if (value instanceof Map || isPlainObject(value)) {
    const lines: string[] = [];
    appendValue(lines, value);
    return lines.join(", ");
  }
  return scalarText(value).replace(/\r\n/g, " ");
}

function isPlainObject(value: ReplyValue): value is { readonly [key: string]: ReplyValue } {
  if (value === null || typeof value !== "object") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export const textReplyEncoder: ReplyEncoder = {
  encodeValue(value: ReplyValue, out: ReplyOutput): void {
    // Fast path: one scalar, the common case for counters and pings.
    if (typeof value === "number" || (typeof value === "string" && !value.includes("\n") && !value.includes("\r"))) {
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
    out.text(`-${error.code} ${normalizeLines(error.message).replace(/\r\n/g, " ")}${CRLF}`);
  },
  encodePush(values: readonly ReplyValue[], out: ReplyOutput): void {
    // A push is one line in a terminal: `message news hello`.
    out.text(`${values.map(inlineText).join(" ")}${CRLF}`);
  },
};
