/**
 * Incremental LF-delimited line splitter for a byte stream.
 *
 * Pure (no sockets): the connection feeds it whatever `data` chunks arrive and
 * gets back the complete lines. It never holds more than
 * `maxLineLength + 1` bytes of an unfinished line, so a peer that streams an
 * endless line cannot make the server buffer it.
 */

const LF = 0x0a;
const CR = 0x0d;

/** Result of one {@link LineReader.push}. */
export interface LineBatch {
  /** Complete lines, in order, without their `\n` / `\r\n` terminator. */
  lines: Buffer[];
  /**
   * A line exceeded `maxLineLength`. The lines completed before it are still
   * in `lines`; everything from the offending line on is discarded for good.
   */
  overflow: boolean;
}

export class LineReader {
  /**
   * Longest accepted line, in bytes, terminator excluded. Read at every push,
   * so a change applies from the next push on.
   */
  maxLineLength: number;

  /**
   * Unfinished line, kept as views of the chunks it arrived in so that bytes
   * are only copied once, when the line completes across chunks.
   */
  #tail: Buffer[] = [];
  #tailLength = 0;
  /** After an overflow the stream position is lost, so nothing else is trusted. */
  #poisoned = false;

  constructor(maxLineLength: number) {
    if (!(maxLineLength >= 0)) {
      throw new RangeError(`maxLineLength must be >= 0, got ${maxLineLength}`);
    }
    this.maxLineLength = maxLineLength;
  }

  /**
   * Bytes of the unfinished line currently held. After every push this is at
   * most `maxLineLength + 1` (the `+ 1` being a trailing CR that may still
   * turn out to be half of a CRLF); it is 0 once the reader is poisoned.
   */
  get buffered(): number {
    return this.#tailLength;
  }

  /** The first `max` bytes of the pending (unterminated) line, copied. */
  peek(max: number): Buffer {
    return Buffer.concat(this.#tail, Math.min(max, this.#tailLength));
  }

  /** True once an overflow happened; every later push reports overflow. */
  get poisoned(): boolean {
    return this.#poisoned;
  }

  push(chunk: Buffer): LineBatch {
    if (this.#poisoned) return { lines: [], overflow: true };
    const lines: Buffer[] = [];
    const max = this.maxLineLength;
    let start = 0;
    let lf = chunk.indexOf(LF, start);

    while (lf !== -1) {
      const total = this.#tailLength + (lf - start);
      // The CR of a CRLF may be the last byte of the previous chunk.
      const lastByte = lf > start ? chunk[lf - 1] : this.#lastTailByte();
      const length = lastByte === CR ? total - 1 : total;
      // Check before concatenating so an oversized line is never copied.
      if (length > max) return this.#poison(lines);

      if (this.#tailLength === 0) {
        // Fast path: a view into the chunk, no copy.
        lines.push(chunk.subarray(start, start + length));
      } else {
        this.#tail.push(chunk.subarray(start, lf));
        lines.push(Buffer.concat(this.#tail, total).subarray(0, length));
        this.#tail = [];
        this.#tailLength = 0;
      }
      start = lf + 1;
      lf = chunk.indexOf(LF, start);
    }

    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#tail.push(rest);
      this.#tailLength += rest.length;
      // A trailing CR is not counted yet: an LF in the next chunk would make
      // it part of the terminator.
      const pending = this.#lastTailByte() === CR ? this.#tailLength - 1 : this.#tailLength;
      if (pending > max) return this.#poison(lines);
    }
    return { lines, overflow: false };
  }

  #lastTailByte(): number | undefined {
    const last = this.#tail[this.#tail.length - 1];
    return last === undefined ? undefined : last[last.length - 1];
  }

  #poison(lines: Buffer[]): LineBatch {
    this.#poisoned = true;
    this.#tail = [];
    this.#tailLength = 0;
    return { lines, overflow: true };
  }
}
