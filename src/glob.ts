/**
 * Redis's glob patterns (`stringmatchlen` in Redis's util.c), matched in bounded time.
 *
 * `*` any run of characters, `?` any one character, `[abc]` one of a set, `[^abc]` one not in
 * it, `[a-z]` a range (a reversed range `[z-a]` is the same range), `\x` the character x
 * itself, inside a class too. A class left open (`[abc`) ends with the pattern; `[]` matches
 * nothing and `[^]` any one character. Characters are UTF-16 code units, as JavaScript
 * strings index them.
 *
 * Why not a RegExp: a RegExp built from a glob backtracks, and `*a*a*a*a*a*a*a*a*a*b`
 * against a 40-character name took 10.7 s of a server's event loop. Every token but `*`
 * consumes exactly one character, so the runs between stars can be placed one by one: the
 * first at the start, the last at the end, each other one at its leftmost place. That is
 * exact, without recursion or backtracking, and a run of plain characters is found by the
 * engine's substring search; the worst case, runs full of `?` and classes, is
 * O(pattern × subject) (Redis itself had both bugs: CVE-2022-36021 and CVE-2024-31228).
 */

/** One token of a compiled pattern; every kind but `star` consumes one character. */
type Token =
  | { readonly kind: "star" }
  | { readonly kind: "any" }
  | { readonly kind: "char"; readonly code: number }
  | { readonly kind: "class"; readonly negate: boolean; readonly chars: readonly number[]; readonly ranges: readonly number[] };

const STAR: Token = { kind: "star" };
const ANY: Token = { kind: "any" };
const BACKSLASH = 0x5c;

export interface GlobOptions {
  /** Match letters A–Z and a–z case-insensitively, as Redis's `nocase` (ASCII only). */
  readonly nocase?: boolean | undefined;
}

function lowerAscii(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
}

/** Reads a `[...]` class starting after its `[`; returns the token and where the pattern goes on. */
function readClass(pattern: string, from: number, fold: (code: number) => number): [Token, number] {
  let i = from;
  const negate = pattern.charCodeAt(i) === 0x5e; // ^
  if (negate) i++;
  const chars: number[] = [];
  const ranges: number[] = [];
  for (; i < pattern.length; i++) {
    const code = pattern.charCodeAt(i);
    if (code === BACKSLASH && i + 1 < pattern.length) {
      chars.push(fold(pattern.charCodeAt(++i)));
    } else if (code === 0x5d) {
      return [{ kind: "class", negate, chars, ranges }, i + 1]; // ]
    } else if (i + 2 < pattern.length && pattern.charCodeAt(i + 1) === 0x2d) {
      const a = fold(code);
      const b = fold(pattern.charCodeAt(i + 2));
      ranges.push(Math.min(a, b), Math.max(a, b));
      i += 2;
    } else {
      chars.push(fold(code));
    }
  }
  return [{ kind: "class", negate, chars, ranges }, i]; // left open: ends with the pattern
}

/** A run of tokens between two stars; `literal` when they are all plain characters, matched case-sensitively. */
interface Segment {
  readonly tokens: readonly Token[];
  readonly literal: string | null;
}

function splitAtStars(tokens: readonly Token[], nocase: boolean): { head: Token[]; tail: Token[]; middle: Segment[] } {
  const runs: Token[][] = [[]];
  for (const token of tokens) {
    if (token === STAR) runs.push([]);
    else runs[runs.length - 1]!.push(token);
  }
  const head = runs.shift()!;
  const tail = runs.pop()!;
  const middle = runs
    .filter((run) => run.length > 0)
    .map((run) => ({
      tokens: run,
      literal: !nocase && run.every((token) => token.kind === "char") ? run.map((token) => String.fromCharCode((token as { code: number }).code)).join("") : null,
    }));
  return { head, tail, middle };
}

function classMatches(token: Extract<Token, { kind: "class" }>, code: number): boolean {
  let found = token.chars.includes(code);
  for (let r = 0; !found && r < token.ranges.length; r += 2) found = code >= token.ranges[r]! && code <= token.ranges[r + 1]!;
  return found !== token.negate;
}

/**
 * A glob compiled once, to match many subjects: `new GlobPattern("news.*").matches(channel)`.
 * Compiling is O(pattern); each match is O(pattern × subject) at worst, and O(1) when the
 * subject is shorter than the characters the pattern needs.
 */
export class GlobPattern {
  readonly source: string;
  readonly #tokens: readonly Token[];
  /** For each token index: how many characters the tokens from there on need at least. */
  readonly #needs: Uint32Array;
  readonly #fold: (code: number) => number;
  /** The runs of tokens between stars; null for a pattern without a star. */
  readonly #segments: { head: Token[]; tail: Token[]; middle: Segment[] } | null;

  constructor(pattern: string, options: GlobOptions = {}) {
    this.source = pattern;
    this.#fold = options.nocase ? lowerAscii : (code) => code;
    const tokens: Token[] = [];
    for (let i = 0; i < pattern.length; ) {
      const code = pattern.charCodeAt(i);
      if (code === 0x2a) {
        if (tokens[tokens.length - 1] !== STAR) tokens.push(STAR); // `**` is `*`
        i++;
      } else if (code === 0x3f) {
        tokens.push(ANY);
        i++;
      } else if (code === 0x5b) {
        const [token, next] = readClass(pattern, i + 1, this.#fold);
        tokens.push(token);
        i = next;
      } else if (code === BACKSLASH && i + 1 < pattern.length) {
        tokens.push({ kind: "char", code: this.#fold(pattern.charCodeAt(i + 1)) });
        i += 2;
      } else {
        tokens.push({ kind: "char", code: this.#fold(code) });
        i++;
      }
    }
    this.#tokens = tokens;
    this.#needs = new Uint32Array(tokens.length + 1);
    for (let t = tokens.length - 1; t >= 0; t--) this.#needs[t] = this.#needs[t + 1]! + (tokens[t] === STAR ? 0 : 1);
    this.#segments = tokens.includes(STAR) ? splitAtStars(tokens, options.nocase === true) : null;
  }

  /** True when `subject` matches the whole pattern. */
  matches(subject: string): boolean {
    const length = subject.length;
    if (length < this.#needs[0]!) return false;
    const segments = this.#segments;
    if (segments === null) return length === this.#tokens.length && this.#at(this.#tokens, 0, subject, 0);
    // Between the stars: the first segment is anchored at the start, the last at the end, and
    // each one between them goes at its leftmost place. Leftmost is exact (every token but `*`
    // takes one character, so an earlier place leaves the rest more room), and makes the
    // worst case O(pattern × subject) with no backtracking at all.
    let from = 0;
    let end = length;
    const { head, tail, middle } = segments;
    if (head.length > 0) {
      if (!this.#at(head, 0, subject, 0)) return false;
      from = head.length;
    }
    if (tail.length > 0) {
      end = length - tail.length;
      if (end < from || !this.#at(tail, 0, subject, end)) return false;
    }
    for (const segment of middle) {
      const found = this.#find(segment, subject, from, end);
      if (found === -1) return false;
      from = found + segment.tokens.length;
    }
    return true;
  }

  /** Where `segment` first matches whole inside subject[from, end), or -1. */
  #find(segment: Segment, subject: string, from: number, end: number): number {
    const size = segment.tokens.length;
    if (segment.literal !== null) {
      // A run of plain characters: the engine's own substring search, linear in practice.
      const found = subject.indexOf(segment.literal, from);
      return found === -1 || found + size > end ? -1 : found;
    }
    for (let start = from; start + size <= end; start++) if (this.#at(segment.tokens, 0, subject, start)) return start;
    return -1;
  }

  /** True when `tokens` (no star among them) match `subject` from `at`, one character each. */
  #at(tokens: readonly Token[], first: number, subject: string, at: number): boolean {
    const fold = this.#fold;
    for (let t = first; t < tokens.length; t++) if (!this.#one(tokens[t]!, fold(subject.charCodeAt(at + t - first)))) return false;
    return true;
  }

  #one(token: Token, code: number): boolean {
    switch (token.kind) {
      case "any":
        return true;
      case "char":
        return token.code === code;
      case "class":
        return classMatches(token, code);
      default:
        return false;
    }
  }
}

/** True when `subject` matches the glob `pattern`; see {@link GlobPattern} to match many subjects. */
export function globMatch(pattern: string, subject: string, options?: GlobOptions): boolean {
  return new GlobPattern(pattern, options).matches(subject);
}
