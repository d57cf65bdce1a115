/**
 * Where encoders put reply bytes. Replies are mostly ASCII, so they are gathered in one
 * string and written with a single socket write per batch; a binary value (a Buffer reply
 * in RESP) is kept as bytes so it reaches the client unchanged.
 */
export type OutputChunk = string | Buffer;

const SMALL_BYTES = 64;

function isAscii(value: Uint8Array): boolean {
  for (let i = 0; i < value.length; i++) if (value[i]! > 0x7f) return false;
  return true;
}

export class ReplyOutput {
  #text = "";
  #chunks: OutputChunk[] | null = null;
  /** Length of what is in #chunks: bytes, or characters for text (a close enough measure). */
  #chunkSize = 0;
  #markText = 0;
  #markChunks = 0;
  #markChunkSize = 0;

  /** Appends ASCII/UTF-8 protocol text. */
  text(value: string): void {
    this.#text += value;
  }

  /** Appends raw bytes, byte for byte. */
  bytes(value: Uint8Array): void {
    // Short ASCII values (most stored keys and counters) read the same as text: keep them
    // in the one string, so the batch still leaves in a single plain write.
    if (value.length <= SMALL_BYTES && isAscii(value)) {
      this.#text += Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("latin1");
      return;
    }
    this.#chunks ??= [];
    if (this.#text.length > 0) {
      this.#chunks.push(this.#text);
      this.#chunkSize += this.#text.length;
      this.#text = "";
    }
    this.#chunks.push(Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    this.#chunkSize += value.length;
  }

  /**
   * Remembers where the output stands, so {@link abandonReply} can drop a reply whose
   * encoding fails halfway. Fields rather than a returned object: it runs for every reply.
   */
  beginReply(): void {
    this.#markText = this.#text.length;
    this.#markChunks = this.#chunks?.length ?? 0;
    this.#markChunkSize = this.#chunkSize;
  }

  /** Drops everything appended since the last {@link beginReply}. */
  abandonReply(): void {
    const chunks = this.#chunks;
    if (chunks !== null && chunks.length > this.#markChunks) {
      // The text held at the mark, if any, went into the first chunk pushed after it.
      const first = chunks[this.#markChunks]!;
      this.#text = typeof first === "string" ? first.slice(0, this.#markText) : "";
      chunks.length = this.#markChunks;
      if (chunks.length === 0) this.#chunks = null;
    } else {
      this.#text = this.#text.slice(0, this.#markText);
    }
    this.#chunkSize = this.#markChunkSize;
  }

  /** About how many bytes are held (text counted in characters). */
  get size(): number {
    return this.#text.length + this.#chunkSize;
  }

  get empty(): boolean {
    return this.#text.length === 0 && this.#chunks === null;
  }

  /** Everything appended so far (one string in the common case), and resets. */
  take(): OutputChunk | OutputChunk[] {
    const text = this.#text;
    this.#text = "";
    if (this.#chunks === null) return text;
    const chunks = this.#chunks;
    this.#chunks = null;
    this.#chunkSize = 0;
    if (text.length > 0) chunks.push(text);
    return chunks;
  }
}
