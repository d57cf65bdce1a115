/**
 * Parses the handshake ("header") line a client sends before any command.
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
