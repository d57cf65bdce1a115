/**
 * The client side of the model tests: one real TCP socket to 127.0.0.1 that speaks either
 * protocol. Replies are consumed one at a time (text lines, or whole RESP values), so an
 * unexpected extra reply is never swallowed: it stays buffered and fails the next read.
 */
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { decodeReplies, RespDecodeError, type RespValue } from "../resp-decoder.js";

/** One RESP request: a multibulk array of bulk strings, as redis-cli sends it. */
export function respRequest(words: readonly string[]): Buffer {
  const parts = [Buffer.from(`*${words.length}\r\n`)];
  for (const word of words) {
    const bytes = Buffer.from(word);
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

export class WireClient {
  readonly socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #discarding = false;
  #closed = false;
  /** True once the server ended its side (FIN), as opposed to us destroying the socket. */
  endedByServer = false;
  #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      if (!this.#discarding) this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on("end", () => {
      this.endedByServer = true;
      this.#wake();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
  }

  static async connect(port: number): Promise<WireClient> {
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    return new WireClient(socket);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Bytes received and not consumed yet. */
  get buffered(): string {
    return this.#buffer.toString("latin1");
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Stops reading: the kernel buffers fill, then the server's own output piles up. */
  pause(): void {
    this.socket.pause();
  }

  /** Reads again, dropping whatever arrives (a flood the test does not need to look at). */
  resumeDiscarding(): void {
    this.#discarding = true;
    this.#buffer = Buffer.alloc(0);
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Consumes the next `count` CRLF-terminated lines. */
  async lines(count: number, timeoutMs = 3000): Promise<string[]> {
    let taken: string[] = [];
    await this.#until(
      () => {
        const text = this.#buffer.toString("latin1");
        const found: string[] = [];
        let start = 0;
        while (found.length < count) {
          const end = text.indexOf("\r\n", start);
          if (end === -1) return false;
          found.push(text.slice(start, end));
          start = end + 2;
        }
        taken = found;
        this.#buffer = this.#buffer.subarray(start);
        return true;
      },
      `${count} line(s)`,
      timeoutMs,
    );
    return taken.map((line) => Buffer.from(line, "latin1").toString("utf8"));
  }

  /** Consumes the next `count` RESP replies, decoded strictly as RESP `version`. */
  async replies(count: number, version: 2 | 3, timeoutMs = 3000): Promise<RespValue[]> {
    let taken: RespValue[] = [];
    await this.#until(
      () => {
        // The shortest prefix ending in CRLF that decodes to exactly `count` replies.
        let end = this.#buffer.indexOf("\r\n");
        while (end !== -1) {
          const prefix = this.#buffer.subarray(0, end + 2);
          try {
            const decoded = decodeReplies(prefix, { version });
            if (decoded.length === count) {
              taken = decoded;
              this.#buffer = this.#buffer.subarray(end + 2);
              return true;
            }
            if (decoded.length > count) throw new Error(`more replies than expected in ${JSON.stringify(prefix.toString("latin1"))}`);
          } catch (error) {
            if (!(error instanceof RespDecodeError && error.message.startsWith("incomplete"))) throw error;
          }
          end = this.#buffer.indexOf("\r\n", end + 2);
        }
        return false;
      },
      `${count} RESP${version} repl${count === 1 ? "y" : "ies"}`,
      timeoutMs,
    );
    return taken;
  }

  /** Resolves once the socket is closed, by either side. */
  async closed(timeoutMs = 3000): Promise<void> {
    await this.#until(() => this.#closed, "the socket to close", timeoutMs, true);
  }

  async #until(probe: () => boolean, what: string, timeoutMs: number, closing = false): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!probe()) {
      if (this.#closed && !closing) throw new Error(`closed while waiting for ${what}; have ${JSON.stringify(this.buffered.slice(0, 300))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; have ${JSON.stringify(this.buffered.slice(0, 300))}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}
