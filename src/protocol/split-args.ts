/**
 * Splits one command line into arguments the way Redis's `sdssplitargs`
 * (and so redis-cli) does, so users can type the quoting they already know.
 */
import { WireErrors } from "./wire-errors.js";

/** Reply text for a line that {@link splitArgs} rejects. */
/** The error of a line whose quotes do not close (Redis's wording). */
export const UNBALANCED_QUOTES = WireErrors.unbalancedQuotes.message;

const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;

/** Space, \t, \n, \v, \f, \r — the C `isspace` set Redis uses. */
function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || (byte !== undefined && byte >= 0x09 && byte <= 0x0d);
}

const WHITESPACE_RUN = /[ \t\n\v\f\r]+/;

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Single-character escapes valid inside double quotes; others map to themselves. */
const ESCAPES: Readonly<Record<number, number>> = {
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
  0x62: 0x08, // \b
  0x61: 0x07, // \a
};

/**
 * Returns the arguments of `line`, or `null` if its quoting is malformed
 * (unterminated quote, or a closing quote glued to the next character).
 *
 * Unlike C, NUL is an ordinary byte. Arguments are collected as bytes and
 * decoded as UTF-8 only at the end, so `"\xe2\x82\xac"` yields "€".
 */
export function splitArgs(line: Buffer): string[] | null {
  // Fast path: without quotes there are no escapes, so a plain split of the
  // decoded string is equivalent (separators are ASCII and survive decoding).
  if (line.indexOf(DQUOTE) === -1 && line.indexOf(SQUOTE) === -1) {
    return line
      .toString("utf8")
      .split(WHITESPACE_RUN)
      .filter((arg) => arg.length !== 0);
  }
  return splitQuoted(line);
}

function splitQuoted(line: Buffer): string[] | null {
  const args: string[] = [];
  // Output never outgrows the input (escapes only shrink), so one scratch
  // buffer holds every argument's bytes.
  const out = Buffer.allocUnsafe(line.length);
  const n = line.length;
  let p = 0;

  while (true) {
    while (p < n && isSpace(line[p])) p++;
    if (p >= n) return args;

    let w = 0;
    // State: 0 = bare, DQUOTE / SQUOTE = inside that kind of quote.
    let quote = 0;
    let done = false;
    while (!done) {
      const c = line[p];
      if (quote === DQUOTE) {
        if (c === undefined) return null; // unterminated
        if (c === BACKSLASH && line[p + 1] === 0x78) {
          const hi = hexValue(line[p + 2]);
          const lo = hexValue(line[p + 3]);
          if (hi >= 0 && lo >= 0) {
            out[w++] = (hi << 4) | lo;
            p += 4;
            continue;
          }
        }
        if (c === BACKSLASH && p + 1 < n) {
          const e = line[p + 1] as number;
          out[w++] = ESCAPES[e] ?? e;
          p += 2;
        } else if (c === DQUOTE) {
          if (p + 1 < n && !isSpace(line[p + 1])) return null;
          p++;
          done = true;
        } else {
          out[w++] = c;
          p++;
        }
      } else if (quote === SQUOTE) {
        if (c === undefined) return null; // unterminated
        if (c === BACKSLASH && line[p + 1] === SQUOTE) {
          out[w++] = SQUOTE;
          p += 2;
        } else if (c === SQUOTE) {
          if (p + 1 < n && !isSpace(line[p + 1])) return null;
          p++;
          done = true;
        } else {
          out[w++] = c;
          p++;
        }
      } else if (c === undefined || isSpace(c)) {
        done = true;
      } else {
        // As in Redis, a quote may also open in the middle of a bare word.
        if (c === DQUOTE || c === SQUOTE) quote = c;
        else out[w++] = c;
        p++;
      }
    }
    args.push(out.toString("utf8", 0, w));
  }
}
