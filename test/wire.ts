/**
 * Byte-level helpers shared by the suites: a raw TCP client on 127.0.0.1 that keeps every
 * byte it receives, a RESP request encoder, and a guard that records unhandled rejections
 * and uncaught exceptions while a test runs. Nothing here mocks a socket.
 */
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { decodeReplies, RespDecodeError, type RespValue } from "./resp-decoder.js";

/** One RESP request: a multibulk array of bulk strings, exactly as redis-cli sends it. */
export function resp(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** A RESP value as one comparable string: `+PONG`, `-ERR ...`, bulk text as is, `:1`. */
export function renderReply(value: RespValue): string {
  switch (value.t) {
    case "simple":
      return `+${value.v}`;
    case "error":
      return `-${value.v}`;
    case "bulk":
      return value.v.toString("utf8");
    case "int":
      return `:${value.v}`;
    case "null":
      return "(nil)";
    default:
      return `(${value.t})`;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A client that writes raw bytes and keeps every byte it receives, for byte-exact assertions.
 * Two ways to read: `received`/`text`/`replies` look at everything since the last `clear()`;
 * `lines`/`nextReplies` consume one reply at a time, so an unexpected extra reply is never
 * swallowed: it stays in `buffered` and fails the next read.
 */
export class RawClient {
  readonly socket: Socket;
  #chunks: Buffer[] = [];
  #length = 0;
  /** How many bytes of `received` the consuming reads have taken. */
  #consumed = 0;
  #discarding = false;
  /** While set, what arrives is dropped up to and including these bytes (`discardThrough`). */
  #discardThrough: { marker: Buffer; tail: Buffer; seen: () => void } | null = null;
  #closed = false;
  /** True when the server ended the connection (FIN), as opposed to us destroying it. */
  endedByServer = false;
  error: Error | null = null;
  #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      if (this.#discardThrough) chunk = this.#dropThroughMarker(chunk);
      if (!this.#discarding && chunk.length > 0) {
        this.#chunks.push(chunk);
        this.#length += chunk.length;
      }
      this.#wake();
    });
    socket.on("end", () => {
      this.endedByServer = true;
      this.#wake();
    });
    socket.on("error", (error) => {
      this.error = error;
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
  }

  /** `allowHalfOpen`: the server's FIN does not close our side; we close when we choose (`destroy`). */
  static async connect(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<RawClient> {
    const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: options.allowHalfOpen ?? false });
    await once(socket, "connect");
    return new RawClient(socket);
  }

  /** Every byte received so far. */
  get received(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#length)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  /** The bytes received so far, one character per byte. */
  get text(): string {
    return this.received.toString("latin1");
  }

  /** Bytes received and not consumed yet by `lines`/`nextReplies`, one character per byte. */
  get buffered(): string {
    return this.#unconsumed.toString("latin1");
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /** Forgets what was received so far (the next assertions start from here). */
  clear(): void {
    this.#chunks = [];
    this.#length = 0;
    this.#consumed = 0;
  }

  /** Stops reading: the kernel buffers fill, then the server's own output piles up. */
  pause(): void {
    this.socket.pause();
  }

  /** Reads again, dropping whatever arrives (a flood the test does not need to look at). */
  resumeDiscarding(): void {
    this.#discarding = true;
    this.clear();
    this.socket.resume();
  }

  /**
   * Reads again, dropping everything up to and including `marker` (which must not occur
   * in what comes before it); what follows it is kept as usual. Resolves once it has passed.
   */
  discardThrough(marker: string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out discarding through ${JSON.stringify(marker)}`)), timeoutMs);
      this.#discardThrough = {
        marker: Buffer.from(marker, "latin1"),
        tail: Buffer.alloc(0),
        seen: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.socket.resume();
    });
  }

  #dropThroughMarker(chunk: Buffer): Buffer {
    const state = this.#discardThrough!;
    // Keep the last marker-length bytes: the marker may be split across reads.
    const window = Buffer.concat([state.tail, chunk]);
    const at = window.indexOf(state.marker);
    if (at === -1) {
      state.tail = window.subarray(Math.max(0, window.length - state.marker.length + 1));
      return Buffer.alloc(0);
    }
    this.#discardThrough = null;
    state.seen();
    return window.subarray(at + state.marker.length);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves once `probe` holds for the received bytes; rejects after `timeoutMs`. */
  async until(probe: (received: Buffer) => boolean, what: string, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe(this.received)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.text.slice(0, 500))}`);
      if (this.#closed && !probe(this.received)) {
        throw new Error(`closed while waiting for ${what}; received ${JSON.stringify(this.text.slice(0, 500))}`);
      }
      await this.#wait(left);
    }
  }

  /** Resolves with the received text once it is at least `length` bytes long. */
  async bytes(length: number, timeoutMs = 3000): Promise<string> {
    await this.until((received) => received.length >= length, `${length} bytes`, timeoutMs);
    return this.text;
  }

  /** The first `count` RESP replies received (waits until that many are complete). */
  async replies(count: number, version: 2 | 3 = 3, timeoutMs = 3000): Promise<RespValue[]> {
    let decoded: RespValue[] = [];
    await this.until(
      (received) => {
        try {
          decoded = decodeReplies(received, { version });
        } catch (error) {
          if (error instanceof RespDecodeError && error.message.startsWith("incomplete")) return false;
          throw error;
        }
        return decoded.length >= count;
      },
      `${count} RESP replies`,
      timeoutMs,
    );
    return decoded.slice(0, count);
  }

  /** Consumes the next `count` CRLF-terminated lines, decoded as UTF-8. */
  async lines(count: number, timeoutMs = 3000): Promise<string[]> {
    let taken: string[] = [];
    await this.until(
      () => {
        const text = this.buffered;
        const found: string[] = [];
        let start = 0;
        while (found.length < count) {
          const end = text.indexOf("\r\n", start);
          if (end === -1) return false;
          found.push(text.slice(start, end));
          start = end + 2;
        }
        taken = found;
        this.#consumed += start;
        return true;
      },
      `${count} line(s)`,
      timeoutMs,
    );
    return taken.map((line) => Buffer.from(line, "latin1").toString("utf8"));
  }

  /** Consumes the next `count` RESP replies (and not a byte more), decoded strictly as RESP `version`. */
  async nextReplies(count: number, version: 2 | 3, timeoutMs = 3000): Promise<RespValue[]> {
    let taken: RespValue[] = [];
    await this.until(
      () => {
        const pending = this.#unconsumed;
        // The shortest prefix ending in CRLF that decodes to exactly `count` replies.
        let end = pending.indexOf("\r\n");
        while (end !== -1) {
          const prefix = pending.subarray(0, end + 2);
          try {
            const decoded = decodeReplies(prefix, { version });
            if (decoded.length === count) {
              taken = decoded;
              this.#consumed += end + 2;
              return true;
            }
            if (decoded.length > count) throw new Error(`more replies than expected in ${JSON.stringify(prefix.toString("latin1"))}`);
          } catch (error) {
            if (!(error instanceof RespDecodeError && error.message.startsWith("incomplete"))) throw error;
          }
          end = pending.indexOf("\r\n", end + 2);
        }
        return false;
      },
      `${count} RESP${version} repl${count === 1 ? "y" : "ies"}`,
      timeoutMs,
    );
    return taken;
  }

  /** Resolves when the socket is closed (by either side); rejects after `timeoutMs`. */
  async closed(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open; received ${JSON.stringify(this.text.slice(0, 500))}`);
      await this.#wait(left);
    }
  }

  get #unconsumed(): Buffer {
    return this.received.subarray(this.#consumed);
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

/** Opens raw clients and destroys them all when asked (a suite's `after` hook). */
export class RawClients {
  readonly #open: RawClient[] = [];

  async open(port: number): Promise<RawClient> {
    const client = await RawClient.connect(port);
    this.#open.push(client);
    return client;
  }

  destroyAll(): void {
    for (const client of this.#open.splice(0)) client.destroy();
  }
}

/**
 * Records every unhandled rejection and uncaught exception from `start()` to `stop()`.
 * Installing a listener also keeps Node from killing the test process on one, so the test
 * can assert that none happened instead of crashing.
 */
export class ProcessFaults {
  readonly rejections: unknown[] = [];
  readonly exceptions: unknown[] = [];
  readonly #onRejection = (reason: unknown) => void this.rejections.push(reason);
  readonly #onException = (error: unknown) => void this.exceptions.push(error);

  start(): this {
    process.on("unhandledRejection", this.#onRejection);
    process.on("uncaughtException", this.#onException);
    return this;
  }

  stop(): void {
    process.off("unhandledRejection", this.#onRejection);
    process.off("uncaughtException", this.#onException);
  }

  /** How many were recorded; forgets them, so a later test starts clean. */
  take(): { count: number; summary: string } {
    const taken = { count: this.rejections.length + this.exceptions.length, summary: this.describe() };
    this.rejections.length = 0;
    this.exceptions.length = 0;
    return taken;
  }

  /** A one-line summary for assertion messages. */
  describe(): string {
    const show = (value: unknown) => {
      if (value instanceof Error) return value.stack ?? value.message;
      try {
        return String(value);
      } catch {
        return Object.prototype.toString.call(value); // a value with no string conversion
      }
    };
    return JSON.stringify({ rejections: this.rejections.map(show), exceptions: this.exceptions.map(show) });
  }
}
