import { Status, status } from "../reply.js";

/**
 * An incremental RESP2/RESP3 *reply* reader: bytes from a server in, complete replies out.
 * Written for `app.inject()` and meant to be shared by anything in src/ that reads replies
 * (a client library): feed it chunks as they arrive with {@link RespReader.push}, then take
 * every complete reply with {@link RespReader.next} (or {@link RespReader.drain}).
 *
 * | RESP                          | value                                             |
 * |-------------------------------|---------------------------------------------------|
 * | `+text` simple string         | `Status` (`status("OK")`, interned) or a string (`statuses: false`) |
 * | `-CODE message` error         | a {@link ReplyError} (returned, never thrown), also inside arrays |
 * | `:n` integer                  | number, or bigint outside the safe integers        |
 * | `$n` bulk, `=n` verbatim      | string (UTF-8), or Buffer with `buffers: true` (verbatim drops its `txt:`) |
 * | `$-1`, `*-1`, `_`             | null                                              |
 * | `,x` double                   | number (`inf`, `-inf`, `nan` included)            |
 * | `(n` big number               | bigint                                            |
 * | `#t` / `#f`                   | boolean                                           |
 * | `*N` array, `~N` set, `%N` map| array, Set, Map                                   |
 * | `>N` push                     | array, in a frame with `push: true`               |
 * | `!n` bulk error               | a {@link ReplyError}                              |
 * | `\|N` attribute               | skipped (the value after it is the reply)         |
 *
 * Malformed input throws a {@link RespProtocolError} from `next()`; the reader is then
 * unusable (its input no longer has a known framing).
 */
export type RespReplyValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Buffer
  | Status
  | ReplyError
  | RespReplyValue[]
  | Set<RespReplyValue>
  | Map<RespReplyValue, RespReplyValue>;

/** One complete reply; `push` marks an out-of-band RESP3 push (pub/sub messages). */
export interface RespFrame {
  readonly push: boolean;
  readonly value: RespReplyValue;
}

export interface RespReaderOptions {
  /** Bulk and verbatim strings as Buffers instead of UTF-8 strings (default false). */
  buffers?: boolean | undefined;
  /** Simple strings as `Status` (default true), so `+OK` and the bulk string `OK` stay apart. */
  statuses?: boolean | undefined;
  /** Longest header line (type byte to CRLF) accepted before the input is called malformed (default 64 KiB). */
  maxLineLength?: number | undefined;
}

/** An error reply from the server: `-WRONGTYPE Operation against...` → code `WRONGTYPE`. */
export class ReplyError extends Error {
  readonly code: string;

  constructor(line: string) {
    const space = line.indexOf(" ");
    const code = space === -1 ? line : line.slice(0, space);
    super(space === -1 ? "" : line.slice(space + 1));
    this.name = "ReplyError";
    this.code = code.length > 0 ? code : "ERR";
  }
}

/** The server's bytes are not valid RESP. */
export class RespProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RespProtocolError";
  }
}

/** Thrown inside the parser when the buffer ends before the reply does. */
const INCOMPLETE = Symbol("incomplete");
const CR = 0x0d;

export class RespReader {
  #buffer: Buffer = Buffer.alloc(0);
  #pos = 0;
  /**
   * While a bulk body of known length is still arriving: the bytes (from #pos) needed before
   * parsing again is worth it, and the chunks held meanwhile. Without this, a large reply
   * arriving in many reads was copied and re-parsed on every read (32 MB in 64 KiB reads:
   * 5.9 s).
   */
  #needed = 0;
  #neededEnd = 0;
  #held: Buffer[] = [];
  #heldBytes = 0;
  readonly #buffers: boolean;
  readonly #statuses: boolean;
  readonly #maxLine: number;

  constructor(options: RespReaderOptions = {}) {
    this.#buffers = options.buffers ?? false;
    this.#statuses = options.statuses ?? true;
    this.#maxLine = options.maxLineLength ?? 64 * 1024;
  }

  /** Adds bytes as they arrived; replies may span chunks. */
  push(chunk: Buffer | Uint8Array | string): void {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    if (this.#needed > 0 && this.pending + bytes.length < this.#needed) {
      this.#held.push(bytes);
      this.#heldBytes += bytes.length;
      return;
    }
    const rest = this.#buffer.subarray(this.#pos);
    this.#buffer = rest.length === 0 && this.#held.length === 0 ? bytes : Buffer.concat([rest, ...this.#held, bytes]);
    this.#pos = 0;
    this.#held = [];
    this.#heldBytes = 0;
    this.#needed = 0;
  }

  /** Bytes received that are not yet part of a complete reply. */
  get pending(): number {
    return this.#buffer.length - this.#pos + this.#heldBytes;
  }

  /** The next complete reply, or undefined until more bytes arrive. */
  next(): RespFrame | undefined {
    if (this.#needed > 0 || this.#pos >= this.#buffer.length) return undefined;
    const start = this.#pos;
    this.#neededEnd = 0;
    try {
      const push = this.#buffer[this.#pos] === 0x3e; // '>'
      const value = this.#value();
      return { push, value };
    } catch (error) {
      this.#pos = start; // re-parsed whole once the rest has arrived
      if (error === INCOMPLETE) {
        if (this.#neededEnd > 0) this.#needed = this.#neededEnd - start;
        return undefined;
      }
      throw error;
    }
  }

  /** Every complete reply available now. */
  drain(): RespFrame[] {
    const frames: RespFrame[] = [];
    for (let frame = this.next(); frame !== undefined; frame = this.next()) frames.push(frame);
    return frames;
  }

  #line(): string {
    const buf = this.#buffer;
    const end = buf.indexOf("\r\n", this.#pos, "latin1");
    if (end === -1) {
      if (buf.length - this.#pos > this.#maxLine) throw new RespProtocolError("reply line too long");
      throw INCOMPLETE;
    }
    const text = buf.toString("utf8", this.#pos, end);
    this.#pos = end + 2;
    return text;
  }

  #int(text: string): number {
    if (!/^-?\d+$/.test(text)) throw new RespProtocolError(`invalid length or count '${text}'`);
    return Number(text);
  }

  #payload(length: number): Buffer {
    const buf = this.#buffer;
    if (buf.length < this.#pos + length + 2) {
      this.#neededEnd = this.#pos + length + 2;
      throw INCOMPLETE;
    }
    const bytes = buf.subarray(this.#pos, this.#pos + length);
    if (buf[this.#pos + length] !== CR || buf[this.#pos + length + 1] !== 0x0a) {
      throw new RespProtocolError("bulk payload not followed by CRLF");
    }
    this.#pos += length + 2;
    return bytes;
  }

  #bulk(bytes: Buffer): string | Buffer {
    return this.#buffers ? Buffer.from(bytes) : bytes.toString("utf8");
  }

  #items(count: number): RespReplyValue[] {
    const items: RespReplyValue[] = [];
    for (let i = 0; i < count; i++) items.push(this.#value());
    return items;
  }

  #value(): RespReplyValue {
    if (this.#pos >= this.#buffer.length) throw INCOMPLETE;
    const type = String.fromCharCode(this.#buffer[this.#pos]!);
    this.#pos++;
    const line = this.#line();
    switch (type) {
      case "+":
        return this.#statuses ? status(line) : line;
      case "-":
        return new ReplyError(line);
      case ":": {
        if (!/^[-+]?\d+$/.test(line)) throw new RespProtocolError(`invalid integer '${line}'`);
        const n = Number(line);
        return Number.isSafeInteger(n) ? n : BigInt(line);
      }
      case "(":
        if (!/^[-+]?\d+$/.test(line)) throw new RespProtocolError(`invalid big number '${line}'`);
        return BigInt(line);
      case ",": {
        const lower = line.toLowerCase();
        if (lower === "inf" || lower === "+inf") return Infinity;
        if (lower === "-inf") return -Infinity;
        if (lower === "nan") return NaN;
        const n = Number(line);
        if (line.trim() === "" || Number.isNaN(n)) throw new RespProtocolError(`invalid double '${line}'`);
        return n;
      }
      case "#":
        if (line !== "t" && line !== "f") throw new RespProtocolError(`invalid boolean '${line}'`);
        return line === "t";
      case "_":
        return null;
      case "$":
      case "=":
      case "!": {
        const length = this.#int(line);
        if (length < 0) return null;
        const bytes = this.#payload(length);
        if (type === "!") return new ReplyError(bytes.toString("utf8"));
        return this.#bulk(type === "=" ? bytes.subarray(Math.min(4, bytes.length)) : bytes);
      }
      case "*":
      case ">": {
        const count = this.#int(line);
        return count < 0 ? null : this.#items(count);
      }
      case "~":
        return new Set(this.#items(this.#int(line)));
      case "%": {
        const count = this.#int(line);
        const map = new Map<RespReplyValue, RespReplyValue>();
        for (let i = 0; i < count; i++) {
          const key = this.#value();
          map.set(key, this.#value());
        }
        return map;
      }
      case "|": {
        const count = this.#int(line);
        for (let i = 0; i < count * 2; i++) this.#value(); // attributes: metadata, not the reply
        return this.#value();
      }
      default:
        throw new RespProtocolError(`unknown reply type '${type}'`);
    }
  }
}
