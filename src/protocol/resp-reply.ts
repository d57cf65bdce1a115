import { type ErrorReply, type ReplyEncoder, type ReplyValue, Status, Verbatim } from "../reply.js";
import { fromOtherCopy, UnsupportedReplyError } from "../reply-support.js";
import type { ReplyOutput } from "./reply-output.js";
import { ERROR_CODE } from "./wire-errors.js";

/**
 * RESP2 / RESP3 replies. Every value a command writes becomes one RESP value:
 *
 * | value                          | RESP3                          | RESP2                    |
 * |--------------------------------|--------------------------------|--------------------------|
 * | string, even `"+OK"`           | bulk `$`                       | bulk `$`                 |
 * | `Status`                       | simple `+text`                 | simple `+text`           |
 * | safe integer, int64 bigint     | `:n`                           | `:n`                     |
 * | other number                   | double `,1.5` `,inf` `,nan`    | bulk of the same text    |
 * | bigint outside int64           | big number `(n`                | bulk of the digits       |
 * | boolean                        | `#t` / `#f`                    | `:1` / `:0`              |
 * | null / undefined               | `_`                            | `$-1`                    |
 * | Uint8Array / Buffer            | bulk `$`, raw bytes            | bulk `$`, raw bytes      |
 * | Error                          | `-ERR message` (or its `code`) | same                     |
 * | `Verbatim`                     | `=len\r\ntxt:text`             | bulk of the text         |
 * | array                          | `*N`                           | `*N`                     |
 * | Set                            | `~N`                           | `*N`                     |
 * | Map, plain object              | `%N` key, value…               | `*2N` key, value…        |
 * | anything else (a function, a   | throws UnsupportedReplyError:  | same                     |
 * | class instance, a Date, ...)   | the client gets the internal   |                          |
 * |                                | error, the log the command     |                          |
 *
 * A string is always a binary-safe bulk string, so stored data such as `"+1"` comes back
 * unchanged; a simple status is only ever a `Status`: `status("OK")` → `+OK\r\n`.
 */
const CRLF = "\r\n";
const NULL3 = "_\r\n";
const NULL2 = "$-1\r\n";
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** UTF-8 byte length. (A JS loop for short ASCII strings measured no faster than the native call.) */
function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

function hasLineBreak(text: string): boolean {
  return text.includes("\n") || text.includes("\r");
}

/** Puts text on one RESP line: each CRLF, CR or LF becomes a space. */
function oneLine(text: string): string {
  return hasLineBreak(text) ? text.replace(/\r\n|[\r\n]/g, " ") : text;
}

function bulk(text: string): string {
  return `$${byteLength(text)}${CRLF}${text}${CRLF}`;
}

/** Shortest text that parses back to the same double; RESP3 spells the special values inf/-inf/nan. */
function doubleText(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return "nan";
  return value > 0 ? "inf" : "-inf";
}

function numberReply(value: number, v3: boolean): string {
  // -0 is a safe integer and goes out as `:0`.
  if (Number.isSafeInteger(value)) return `:${value}${CRLF}`;
  const text = doubleText(value);
  return v3 ? `,${text}${CRLF}` : bulk(text);
}

function bigintReply(value: bigint, v3: boolean): string {
  if (value >= INT64_MIN && value <= INT64_MAX) return `:${value}${CRLF}`;
  return v3 ? `(${value}${CRLF}` : bulk(String(value));
}

function errorLine(code: string, message: string): string {
  const text = oneLine(message);
  return text.length > 0 ? `-${code} ${text}${CRLF}` : `-${code}${CRLF}`;
}

function errorValueReply(error: Error): string {
  const code: unknown = (error as { code?: unknown }).code;
  return errorLine(typeof code === "string" && ERROR_CODE.test(code) ? code : "ERR", String(error.message));
}

function verbatimReply(value: Verbatim, v3: boolean): string {
  if (!v3) return bulk(value.text);
  // RESP3 requires exactly three format bytes; anything else falls back to txt.
  const format = value.format.length === 3 && byteLength(value.format) === 3 && !hasLineBreak(value.format) ? value.format : "txt";
  return `=${byteLength(value.text) + 4}${CRLF}${format}:${value.text}${CRLF}`;
}

function isPlainObject(value: object): value is { readonly [key: string]: ReplyValue } {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function encodeBytes(value: Uint8Array, out: ReplyOutput): void {
  if (value.byteLength === 0) {
    out.text(`$0${CRLF}${CRLF}`);
    return;
  }
  out.text(`$${value.byteLength}${CRLF}`);
  out.bytes(value);
  out.text(CRLF);
}

function encodeValue(value: ReplyValue, out: ReplyOutput, v3: boolean): void {
  switch (typeof value) {
    case "string":
      out.text(bulk(value));
      return;
    case "number":
      out.text(numberReply(value, v3));
      return;
    case "boolean":
      out.text(v3 ? (value ? "#t\r\n" : "#f\r\n") : value ? ":1\r\n" : ":0\r\n");
      return;
    case "bigint":
      out.text(bigintReply(value, v3));
      return;
    case "undefined":
      out.text(v3 ? NULL3 : NULL2);
      return;
    case "object":
      break;
    default:
      // A function or symbol (from untyped code): its text would be source code.
      throw new UnsupportedReplyError(value);
  }
  if (value === null) {
    out.text(v3 ? NULL3 : NULL2);
    return;
  }
  // The most common object replies first: a status (`+OK`), then stored bytes.
  if (value instanceof Status) {
    out.text(value.line);
    return;
  }
  if (value instanceof Uint8Array) {
    encodeBytes(value, out);
    return;
  }
  if (Array.isArray(value)) {
    const items = value as readonly ReplyValue[];
    out.text(`*${items.length}${CRLF}`);
    for (const item of items) encodeValue(item, out, v3);
    return;
  }
  if (value instanceof Error) {
    out.text(errorValueReply(value));
    return;
  }
  if (value instanceof Verbatim) {
    out.text(verbatimReply(value, v3));
    return;
  }
  if (value instanceof Map) {
    const map = value as ReadonlyMap<unknown, ReplyValue>;
    out.text(v3 ? `%${map.size}${CRLF}` : `*${map.size * 2}${CRLF}`);
    for (const [key, item] of map) {
      if (typeof key === "string") out.text(bulk(key));
      else encodeValue(key as ReplyValue, out, v3);
      encodeValue(item, out, v3);
    }
    return;
  }
  if (value instanceof Set) {
    const set = value as ReadonlySet<ReplyValue>;
    out.text(v3 ? `~${set.size}${CRLF}` : `*${set.size}${CRLF}`);
    for (const item of set) encodeValue(item, out, v3);
    return;
  }
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    out.text(v3 ? `%${keys.length}${CRLF}` : `*${keys.length * 2}${CRLF}`);
    for (const key of keys) {
      out.text(bulk(key));
      encodeValue(value[key], out, v3);
    }
    return;
  }
  const adopted = fromOtherCopy(value);
  if (adopted !== undefined) {
    encodeValue(adopted, out, v3);
    return;
  }
  // A class instance, a Date, a Promise...: no honest wire form (src/reply-support.ts).
  throw new UnsupportedReplyError(value);
}

function createEncoder(version: 2 | 3): ReplyEncoder {
  const v3 = version === 3;
  return {
    /**
     * RESP needs exactly one reply per command. A command that wrote once sends that
     * value; a command that called `write()` several times sends one array of them. A
     * command that wrote nothing (not expected: `values` is never empty) sends a null.
     */
    encodeValue(value: ReplyValue, out: ReplyOutput): void {
      encodeValue(value, out, v3);
    },
    encodeValues(values: readonly ReplyValue[], out: ReplyOutput): void {
      if (values.length === 1) {
        encodeValue(values[0], out, v3);
        return;
      }
      if (values.length === 0) {
        out.text(v3 ? NULL3 : NULL2);
        return;
      }
      encodeValue(values, out, v3);
    },
    encodeError(error: ErrorReply, out: ReplyOutput): void {
      const code = oneLine(error.code);
      out.text(errorLine(code.length > 0 ? code : "ERR", error.message));
    },
    /** An out-of-band message: a RESP3 push `>N`, or a plain array `*N` in RESP2 (as Redis does for pub/sub). */
    encodePush(values: readonly ReplyValue[], out: ReplyOutput): void {
      out.text(v3 ? `>${values.length}${CRLF}` : `*${values.length}${CRLF}`);
      for (const item of values) encodeValue(item, out, v3);
    },
  };
}

export const resp2ReplyEncoder: ReplyEncoder = createEncoder(2);
export const resp3ReplyEncoder: ReplyEncoder = createEncoder(3);

/** The (shared, stateless) reply encoder for RESP `version` 2 or 3. */
export function respReplyEncoder(version: 2 | 3): ReplyEncoder {
  return version === 3 ? resp3ReplyEncoder : resp2ReplyEncoder;
}
