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
  // Command names and keywords are short ASCII: one scan, then the engine's own folding,
  // which agrees with ours on ASCII. Only text with other characters takes the slow path.
  let upper = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return text.replace(UPPER, (u) => String.fromCharCode(u.charCodeAt(0) + 0x20));
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  return upper ? text.toLowerCase() : text;
}

/** `text`, or its first {@link ECHO_LIMIT} characters followed by `...`. */
export function echoed(text: string): string {
  return text.length > ECHO_LIMIT ? `${text.slice(0, ECHO_LIMIT)}...` : text;
}
