/**
 * The handshake ("header") line a client sends before any command: parsed by the server,
 * written by the client and by `app.inject()`.
 */

import { splitArgs } from "./split-args.js";
import { asciiLowerCase } from "../client-text.js";

/**
 * Parses space-separated `key=value` tokens into a map.
 *
 * - Keys are lower-cased so clients need not agree on case.
 * - Tokens without `=` (or with an empty key) are ignored: classic clients
 *   send a dummy header such as `header line`, which must parse to `{}`.
 * - Quoted values (`name="a b"`) work via {@link splitArgs}; if the quoting
 *   is malformed we fall back to a plain whitespace split instead of
 *   rejecting the connection over a cosmetic header.
 * - The result has a null prototype so `__proto__=x` is just a key.
 * - On duplicate keys the last one wins.
 */
export function parseHeader(line: Buffer): Record<string, string> {
  const header = Object.create(null) as Record<string, string>;
  const tokens =
    splitArgs(line) ??
    line
      .toString("utf8")
      .split(/[ \t\n\v\f\r]+/)
      .filter((token) => token.length !== 0);
  for (const token of tokens) {
    const eq = token.indexOf("=");
    if (eq <= 0) continue;
    header[asciiLowerCase(token.slice(0, eq))] = token.slice(eq + 1);
  }
  return header;
}

/** A value that needs no quotes: no whitespace, quote, backslash or control character. */
const BARE_VALUE = /^[^\s"'\\\x00-\x1f\x7f]*$/;
/** A key that reads back as itself: a word without `=`, quotes, backslashes or control characters. */
const KEY = /^[^\s="'\\\x00-\x1f\x7f]+$/;
/** What must be escaped inside double quotes: the quote, the backslash and every control character. */
const ESCAPED = /["\\\x00-\x1f\x7f]/g;
const NAMED_ESCAPES: Readonly<Record<string, string>> = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * `key=value ...\r\n` for `fields`, in order; a value is double-quoted when it holds
 * whitespace, quotes, a backslash or a control character, with those escaped as redis-cli
 * escapes them (`\"`, `\\`, `\n`, `\r`, `\t`, `\xHH`), so {@link parseHeader} reads it back
 * and no value can end the line early (a CR or LF in a value would send the rest as a
 * command). A key that would not read back as itself is a TypeError.
 */
export function formatHeader(fields: Iterable<readonly [string, string]>): string {
  const tokens: string[] = [];
  for (const [key, value] of fields) {
    if (!KEY.test(key)) throw new TypeError(`header key ${JSON.stringify(key)} must be a word without '=', quotes, backslashes or control characters`);
    if (BARE_VALUE.test(value)) tokens.push(`${key}=${value}`);
    else {
      const escaped = value.replace(ESCAPED, (c) => NAMED_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
      tokens.push(`${key}="${escaped}"`);
    }
  }
  return `${tokens.join(" ")}\r\n`;
}
