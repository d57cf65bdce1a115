// Seeded randomness, so a SOAK_SEED replays every client's command stream (timing aside),
// and the alphabets the generated commands and garbage are drawn from.

/** mulberry32: small, fast and good enough to pick commands; one stream per client. */
export class Random {
  #state;
  constructor(seed) {
    this.#state = seed >>> 0;
  }
  next() {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min, max) {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p) {
    return this.next() < p;
  }
  pick(items) {
    return items[Math.floor(this.next() * items.length)];
  }
  /** Picks a key of `weights` ({name: weight}) in proportion to its weight. */
  weighted(weights) {
    const total = Object.values(weights).reduce((a, b) => a + b, 0);
    let at = this.next() * total;
    for (const [name, weight] of Object.entries(weights)) if ((at -= weight) < 0) return name;
    return Object.keys(weights)[0];
  }
  string(alphabet, min, max) {
    let out = "";
    for (let n = this.int(min, max); n > 0; n--) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return out;
  }
  bytes(min, max, alphabet = null) {
    const out = Buffer.alloc(this.int(min, max));
    for (let i = 0; i < out.length; i++) out[i] = alphabet ? alphabet[Math.floor(this.next() * alphabet.length)] : this.int(0, 255);
    return out;
  }
}

export const WORD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+.:,;!?@#$%^&*()[]{}<>/=~|";
export const QUOTED = `${WORD} '`;
/** Bytes that can never spell a command name: no letters, and no backslash (no `\x70` escapes). */
export const NON_LETTERS = [...Array(256).keys()].filter((b) => !(b >= 0x41 && b <= 0x5a) && !(b >= 0x61 && b <= 0x7a) && b !== 0x5c && b !== 0x0a);
