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

/** A value that needs no quotes: no whitespace, quote or backslash. */
const BARE_VALUE = /^[^\s"'\\]*$/;

/**
 * `key=value ...\r\n` for `fields`, in order; a value is double-quoted (`\\` and `"` escaped)
 * when it holds whitespace, quotes or a backslash, so {@link parseHeader} reads it back.
 * Keys go as given. A value must not hold CR or LF: the line would end there.
 */
export function formatHeader(fields: Iterable<readonly [string, string]>): string {
  const tokens: string[] = [];
  for (const [key, value] of fields) {
    tokens.push(BARE_VALUE.test(value) ? `${key}=${value}` : `${key}="${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  }
  return `${tokens.join(" ")}\r\n`;
}
