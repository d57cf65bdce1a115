/**
 * Replies and pushes owed to a client that is not keeping up, held by the connection until
 * its socket drains, and counted in the bytes they really hold.
 *
 * A socket counts a queued string in characters, not the UTF-8 bytes it becomes (3× for
 * most CJK text), and each queued write costs a few hundred bytes of its own: a subscriber
 * that never reads, sent many small pushes, held several times `maxOutputBuffer` before it
 * was cut. Here small pieces are gathered into latin1 strings, one byte per character and
 * one string for many pushes, so the count is the bytes held; a large Buffer is kept as it
 * is (its bookkeeping is small beside it), but never as a small view of a larger allocation.
 */
import type { OutputChunk } from "./protocol/reply-output.js";
import { keepable } from "./protocol/keepable.js";

/** Buffers up to this size join the text; larger ones are kept as bytes. */
const JOIN_LIMIT = 16 * 1024;

/** Whether a string is plain ASCII, which reads the same in latin1 as in UTF-8. */
function isAsciiText(text: string): boolean {
  return Buffer.byteLength(text, "utf8") === text.length;
}

export class OutputBacklog {
  /** Flat latin1 strings (bytes as characters) and large Buffers, in order. */
  #chunks: (string | Buffer)[] = [];
  /**
   * Small pieces not yet joined: joined into one flat string once they reach JOIN_LIMIT,
   * so a long backlog of pushes holds its bytes and not a string object per piece.
   */
  #open: string[] = [];
  #openLength = 0;
  #bytes = 0;

  /** Bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  get empty(): boolean {
    return this.#bytes === 0;
  }

  add(output: OutputChunk | OutputChunk[]): void {
    if (Array.isArray(output)) for (const chunk of output) this.#add(chunk);
    else this.#add(output);
  }

  #add(chunk: OutputChunk): void {
    if (chunk.length === 0) return;
    if (typeof chunk === "string") {
      this.#text(isAsciiText(chunk) ? chunk : Buffer.from(chunk, "utf8").toString("latin1"));
    } else if (chunk.length <= JOIN_LIMIT) {
      this.#text(chunk.toString("latin1"));
    } else {
      this.#close();
      this.#chunks.push(keepable(chunk, 0, chunk.length));
      this.#bytes += chunk.length;
    }
  }

  #text(latin1: string): void {
    this.#open.push(latin1);
    this.#openLength += latin1.length;
    this.#bytes += latin1.length;
    if (this.#openLength >= JOIN_LIMIT) this.#close();
  }

  #close(): void {
    if (this.#open.length === 0) return;
    this.#chunks.push(this.#open.length === 1 ? this.#open[0]! : this.#open.join(""));
    this.#open = [];
    this.#openLength = 0;
  }

  /** Everything held, in order (strings are latin1), and resets. */
  take(): (string | Buffer)[] {
    this.#close();
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#bytes = 0;
    return chunks;
  }
}
