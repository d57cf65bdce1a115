/**
 * Inverse of {@link splitArgs}: renders arguments as one line that splits back
 * into exactly the same strings. Used by tests and by clients/shells that
 * echo or send commands.
 */

/** Printable ASCII that needs no quoting: not space, `"`, `'` or `\`. */
const BARE = /^[\x21\x23-\x26\x28-\x5b\x5d-\x7e]+$/;

/** Escapes that read better than `\xHH`; all are understood by splitArgs. */
const NAMED: Readonly<Record<number, string>> = {
  0x5c: "\\\\",
  0x22: '\\"',
  0x0a: "\\n",
  0x0d: "\\r",
  0x09: "\\t",
};

/**
 * Returns `arg` bare when that is unambiguous, otherwise double-quoted with
 * every byte of its UTF-8 encoding outside printable ASCII written as `\xHH`,
 * so the line stays 7-bit clean and survives any transport.
 */
export function quoteArg(arg: string): string {
  return BARE.test(arg) ? arg : quoteBytes(Buffer.from(arg, "utf8"));
}

/**
 * `bytes` double-quoted as redis-cli shows a value: printable ASCII as is, `\\`, `\"`, `\n`,
 * `\r`, `\t`, and `\xHH` for every other byte. One line, 7-bit clean, and {@link splitArgs}
 * reads it back to the same bytes.
 */
export function quoteBytes(bytes: Uint8Array): string {
  let out = '"';
  for (const byte of bytes) {
    const named = NAMED[byte];
    if (named !== undefined) out += named;
    else if (byte >= 0x20 && byte <= 0x7e) out += String.fromCharCode(byte);
    else out += "\\x" + byte.toString(16).padStart(2, "0");
  }
  return out + '"';
}

/** Quotes each argument and joins them with single spaces. */
export function quoteArgs(args: readonly string[]): string {
  return args.map(quoteArg).join(" ");
}
