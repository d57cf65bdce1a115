/**
 * Text a client sent, where the server acts on it or shows it back. Two rules, one home:
 *
 * - Names are folded to lower case in ASCII only. `toLowerCase()` is Unicode-aware: it turns
 *   the Kelvin sign (U+212A) into `k`, so `BLOC\u212A` would run `block` while no byte of it
 *   spells the command. Redis folds ASCII only, and so do we.
 * - What an error quotes back is cut to {@link ECHO_LIMIT} characters: a 60 KB "command name"
 *   gets a short refusal, not its own 60 KB back.
 */

/** Most characters of client text quoted back in a reply (as Redis cuts unknown commands). */
export const ECHO_LIMIT = 128;

const UPPER = /[A-Z]/g;

/** `text` with A–Z folded to a–z and every other character kept. */
export function asciiLowerCase(text: string): string {
  return text.replace(UPPER, (c) => String.fromCharCode(c.charCodeAt(0) + 0x20));
}

/** `text`, or its first {@link ECHO_LIMIT} characters followed by `...`. */
export function echoed(text: string): string {
  return text.length > ECHO_LIMIT ? `${text.slice(0, ECHO_LIMIT)}...` : text;
}
