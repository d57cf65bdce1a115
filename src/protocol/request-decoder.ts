/**
 * Bytes → commands, for both wire formats a connection can speak:
 *
 * - `text`: one inline command per line (telnet, the original retopy), split like redis-cli.
 * - `resp`: Redis's request format. A request starting with `*` is a multibulk array of
 *   binary-safe bulk strings; anything else is an inline command, as in Redis.
 *
 * Pure (no sockets). It decodes a whole network read in one call and appends one item per
 * command, so the connection can hand the batch to its statechart in a single event.
 * Protocol errors become items too, in order, so the replies owed before them still go out.
 */
import { isAscii } from "node:buffer";
import type { ParsedItem } from "./wire.js";
import { keepable } from "./keepable.js";
import { splitArgs, UNBALANCED_QUOTES } from "./split-args.js";
import { WireErrors } from "./wire-errors.js";
import type { DecoderLimits } from "../limits.js";

export type WireFormat = "text" | "resp";

const LF = 0x0a;
const CR = 0x0d;
const STAR = 0x2a;
const DOLLAR = 0x24;
/** Reads up to this size get a latin1 text view; larger ones (big values) are not copied. */
const TEXT_VIEW_LIMIT = 16 * 1024;
const HIGH_BYTE = /[\x80-\xff]/g;
const TOO_BIG_INLINE = WireErrors.tooBigInline.message;
/**
 * Room reserved up front for a request's arguments. Beyond it the array grows as arguments
 * arrive: an 11-byte `*1048576` header must not reserve 8 MB (Redis caps its reservation too).
 */
const PREALLOCATED_ARGS = 1024;
/** Bulk arguments up to this size are decoded to strings when they are plain ASCII. */
const SMALL_ARG = 64;

/** #readNumberLine's answer when the line has not fully arrived (numbers are bounded far below it). */
const INCOMPLETE = Number.MIN_SAFE_INTEGER;

/** Thrown inside the decoder only; becomes an error item and poisons the stream. */
class FatalProtocolError extends Error {}

/** Whitespace as `isspace()` sees it: space, \t, \n, \v, \f, \r. */
function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

/**
 * V8 makes a slice of 13 characters or more a view that keeps its whole parent string
 * alive. Arguments are often stored (keys, values), so long ones are copied out of the
 * bytes instead: a stored key must not pin the text of the read it came in.
 */
const SLICE_SHARES_PARENT = 13;

function argumentText(text: string, buf: Buffer, start: number, end: number): string {
  return end - start < SLICE_SHARES_PARENT ? text.slice(start, end) : buf.toString("latin1", start, end);
}

export class RequestDecoder {
  /** Switched by the connection once it knows what the client speaks. */
  format: WireFormat;
  readonly #limits: DecoderLimits;
  /** Unconsumed bytes of an incomplete request, as received. */
  #pending: Buffer[] = [];
  #pendingLength = 0;
  /** Bytes needed before parsing again is worth it (a bulk body we know the size of). */
  #needed = 0;
  #poisoned = false;
  // Per-push view of the buffer as latin1 text (one byte per char, so indexes match):
  // decoding once per read and slicing is far cheaper than decoding every word.
  #text: string | null = null;
  #quoteAt = 0;
  #highAt = 0;
  /** Where the last number line read by #readNumberLine ended. */
  #numberEnd = 0;
  /** The last command word decoded (see #commandWord). */
  #lastWord = "";
  /**
   * A multibulk request cut off between two arguments: the arguments read so far and the
   * index of the next. Parsing resumes there, so a request of many small arguments that
   * arrives in many reads is read once, not again from its start on every read.
   */
  #partial: { readonly argv: (string | Buffer)[]; readonly count: number; next: number } | null = null;
  /** Where the bytes still needed by #partial start in the current read. */
  #resumeAt = 0;

  constructor(format: WireFormat, limits: DecoderLimits) {
    this.format = format;
    this.#limits = limits;
  }

  /** Bytes held for an incomplete request. */
  get buffered(): number {
    return this.#pendingLength;
  }

  /**
   * True when it holds nothing of the stream: no incomplete request, no poisoning. Its
   * next push then reads as a fresh decoder's would (the command-word cache only saves
   * allocations), so one decoder can serve every connection whose reads end on a whole
   * request, and a connection needs its own only while a request is cut off.
   */
  get holdsNothing(): boolean {
    return this.#pendingLength === 0 && this.#partial === null && !this.#poisoned;
  }

  /** True after a fatal protocol error: the connection must close; input is ignored. */
  get poisoned(): boolean {
    return this.#poisoned;
  }

  /** Decodes as much of the stream as is complete and appends one item per request. */
  push(chunk: Buffer, out: ParsedItem[]): void {
    if (this.#poisoned || chunk.length === 0) return;
    let buf = chunk;
    if (this.#pendingLength > 0) {
      this.#pending.push(keepable(chunk, 0, chunk.length)); // a view: the rest of a read after a handshake
      this.#pendingLength += chunk.length;
      if (this.#pendingLength < this.#needed) return; // a large bulk body is still arriving
      buf = Buffer.concat(this.#pending, this.#pendingLength);
      this.#pending = [];
      this.#pendingLength = 0;
    }
    this.#needed = 0;
    this.#text = buf.length <= TEXT_VIEW_LIMIT ? buf.toString("latin1") : null;
    this.#quoteAt = -1;
    // One vectorised check of the whole read; the per-argument scan is only for reads with
    // non-ASCII bytes.
    this.#highAt = this.#text !== null && isAscii(buf) ? Infinity : -1;
    let pos = 0;
    try {
      while (pos < buf.length) {
        const multibulk = this.#partial !== null || (this.format === "resp" && buf[pos] === STAR);
        const next = multibulk ? this.#multibulk(buf, pos, out) : this.#inline(buf, pos, out);
        if (next < 0) break;
        pos = next;
      }
    } catch (error) {
      if (!(error instanceof FatalProtocolError)) throw error;
      out.push({ error: error.message, close: true });
      this.#poison();
      return;
    } finally {
      this.#text = null;
    }
    const keepFrom = this.#partial !== null ? this.#resumeAt : pos;
    if (keepFrom < buf.length) {
      const rest = keepable(buf, keepFrom, buf.length, false);
      this.#pending.push(rest);
      this.#pendingLength = rest.length;
    }
  }

  #poison(): void {
    this.#poisoned = true;
    this.#partial = null;
    this.#pending = [];
    this.#pendingLength = 0;
  }

  /** One inline line from `pos`; returns the next position, or -1 if the line is incomplete. */
  #inline(buf: Buffer, pos: number, out: ParsedItem[]): number {
    const lf = buf.indexOf(LF, pos);
    if (lf === -1) {
      // Incomplete: never hold more than one line's worth (plus a CR that may precede LF).
      if (buf.length - pos > this.#limits.maxLineLength + 1) throw new FatalProtocolError(TOO_BIG_INLINE);
      return -1;
    }
    const stop = lf > pos && buf[lf - 1] === CR ? lf - 1 : lf;
    if (stop - pos > this.#limits.maxLineLength) throw new FatalProtocolError(TOO_BIG_INLINE);
    if (stop > pos) {
      const text = this.#text;
      const argv =
        text !== null && this.#nextQuote(text, pos) >= stop && this.#nextHigh(text, pos) >= stop
          ? this.#splitPlain(text, buf, pos, stop)
          : splitArgs(buf.subarray(pos, stop)); // quotes or UTF-8: the careful path
      if (argv === null) out.push({ error: UNBALANCED_QUOTES, close: false });
      else if (argv.length > 0) out.push(argv);
    }
    return lf + 1;
  }

  /** Splits `line[from, to)`, quote-free ASCII, on whitespace; the common case, kept free of regexes. */
  #splitPlain(line: string, buf: Buffer, from: number, to: number): string[] {
    const words: string[] = [];
    const n = to;
    let i = from;
    while (i < n) {
      while (i < n && isSpace(line.charCodeAt(i))) i++;
      if (i >= n) break;
      let j = i + 1;
      while (j < n && !isSpace(line.charCodeAt(j))) j++;
      words.push(words.length === 0 ? this.#commandWord(line, buf, i, j) : argumentText(line, buf, i, j));
      i = j;
    }
    return words;
  }

  /**
   * The command word at `text[start, end)`. Pipelines repeat one command, so the string
   * made for the previous request is reused when the bytes match: no allocation, and the
   * application's command lookup then compares the very same string.
   */
  #commandWord(text: string, buf: Buffer, start: number, end: number): string {
    const last = this.#lastWord;
    if (last.length === end - start && text.startsWith(last, start)) return last;
    this.#lastWord = argumentText(text, buf, start, end);
    return this.#lastWord;
  }

  /** Index of the next `"` or `'` at or after `from` (Infinity if none), cached per push. */
  #nextQuote(text: string, from: number): number {
    if (this.#quoteAt >= from) return this.#quoteAt;
    const dq = text.indexOf('"', from);
    const sq = text.indexOf("'", from);
    this.#quoteAt = Math.min(dq === -1 ? Infinity : dq, sq === -1 ? Infinity : sq);
    return this.#quoteAt;
  }

  /** Index of the next non-ASCII byte at or after `from` (Infinity if none), cached per push. */
  #nextHigh(text: string, from: number): number {
    if (this.#highAt >= from) return this.#highAt;
    HIGH_BYTE.lastIndex = from;
    this.#highAt = HIGH_BYTE.exec(text)?.index ?? Infinity;
    return this.#highAt;
  }

  /**
   * One `*N\r\n($len\r\n<bytes>\r\n)*N` request from `pos` (or the rest of #partial);
   * returns the next position, or -1 when incomplete (and records how many bytes a bulk
   * body still needs).
   */
  #multibulk(buf: Buffer, pos: number, out: ParsedItem[]): number {
    let argv: (string | Buffer)[];
    let count: number;
    let i = 0;
    let at = pos;
    if (this.#partial !== null) {
      ({ argv, count, next: i } = this.#partial);
      this.#partial = null;
    } else {
      count = this.#readNumberLine(buf, pos + 1, "multibulk length");
      if (count === INCOMPLETE) return -1;
      at = this.#numberEnd;
      if (count > this.#limits.maxArgs) throw new FatalProtocolError(WireErrors.invalidLength("multibulk length").message);
      if (count <= 0) return at; // `*0` and `*-1` are ignored, as Redis does
      argv = count <= PREALLOCATED_ARGS ? new Array(count) : [];
    }
    for (; i < count; i++) {
      if (at >= buf.length) return this.#suspend(argv, count, i, at);
      if (buf[at] !== DOLLAR) {
        throw new FatalProtocolError(WireErrors.expectedBulk(String.fromCharCode(buf[at]!)).message);
      }
      const length = this.#readNumberLine(buf, at + 1, "bulk length");
      if (length === INCOMPLETE) return this.#suspend(argv, count, i, at);
      const bodyStart = this.#numberEnd;
      if (length < 0 || length > this.#limits.maxBulkLength) throw new FatalProtocolError(WireErrors.invalidLength("bulk length").message);
      const bodyEnd = bodyStart + length;
      if (bodyEnd + 2 > buf.length) {
        // Wait for the whole body instead of re-parsing on every chunk of a large value.
        this.#needed = bodyEnd + 2 - at;
        return this.#suspend(argv, count, i, at);
      }
      if (buf[bodyEnd] !== CR || buf[bodyEnd + 1] !== LF) throw new FatalProtocolError(WireErrors.expectedCrlfAfterBulk.message);
      const text = this.#text;
      // Plain ASCII arguments become strings (lossless); anything else stays raw bytes.
      argv[i] =
        text !== null && length <= SMALL_ARG && this.#nextHigh(text, bodyStart) >= bodyEnd
          ? i === 0
            ? this.#commandWord(text, buf, bodyStart, bodyEnd)
            : argumentText(text, buf, bodyStart, bodyEnd)
          : keepable(buf, bodyStart, bodyEnd);
      at = bodyEnd + 2;
    }
    out.push(argv);
    return at;
  }

  /** Keeps the arguments read so far; the bytes from `at` on are kept for the next read. */
  #suspend(argv: (string | Buffer)[], count: number, next: number, at: number): number {
    this.#partial = { argv, count, next };
    this.#resumeAt = at;
    return -1;
  }

  /**
   * Reads `<integer>\r\n` at `pos`: its value (the position after the CRLF goes to
   * `#numberEnd`, so no tuple is allocated per number), or INCOMPLETE.
   */
  #readNumberLine(buf: Buffer, pos: number, what: string): number {
    let value = 0;
    let negative = false;
    let i = pos;
    if (buf[i] === 0x2d) {
      negative = true;
      i++;
    }
    const digitsStart = i;
    for (; i < buf.length; i++) {
      const code = buf[i]!;
      if (code >= 0x30 && code <= 0x39) {
        value = value * 10 + (code - 0x30);
        // Far beyond any limit: stop before the number loses precision.
        if (value > 0xffffffff) throw new FatalProtocolError(WireErrors.invalidLength(what).message);
        continue;
      }
      if (code === CR) break;
      throw new FatalProtocolError(WireErrors.invalidLength(what).message);
    }
    if (i - pos > 20) throw new FatalProtocolError(WireErrors.invalidLength(what).message);
    if (i + 1 >= buf.length) {
      if (buf.length - pos > 32) throw new FatalProtocolError(WireErrors.invalidLength(what).message);
      return INCOMPLETE;
    }
    if (buf[i + 1] !== LF || i === digitsStart) throw new FatalProtocolError(WireErrors.invalidLength(what).message);
    this.#numberEnd = i + 2;
    return negative ? -value : value;
  }
}

