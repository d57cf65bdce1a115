/**
 * What a connection writes, and how it stops: replies go to the socket at once while it
 * keeps up, into a counted backlog while it does not; above the high-water mark the owner
 * hears that the client is behind (its statechart then pauses reading) until it catches up;
 * past `maxOutputBuffer` the client is cut; and a closing socket lingers so the client still
 * gets its last lines.
 */
import type { Socket } from "node:net";
import type { Limits } from "./limits.js";
import { OutputBacklog } from "./output-backlog.js";
import type { OutputChunk } from "./protocol/reply-output.js";

/**
 * How long, and for how many more bytes, a closing connection keeps reading to avoid a
 * reset. The time bound is the connection statechart's `lingering` timer.
 */
export const LINGER_MS = 2000;
const LINGER_BYTES = 8 * 1024 * 1024;

export interface SocketOutputOwner {
  /** More than `maxOutputBuffer` bytes are owed: the owner logs and cuts the client. */
  overflow(unsent: number): void;
  /** Unsent output passed the high-water mark: the client is not reading its replies. */
  backedUp(): void;
  /** The socket drained after `backedUp` (or closed). */
  caughtUp(): void;
}

export class SocketOutput {
  readonly #socket: Socket;
  readonly #limits: Pick<Limits, "maxOutputBuffer" | "outputHighWaterMark">;
  readonly #owner: SocketOutputOwner;
  /** Output held while the socket is full (see `send`); created when first needed. */
  #backlog: OutputBacklog | null = null;
  /** While reading is paused because the client is not reading its replies: settles when it has caught up. */
  #drained: Promise<void> | null = null;
  /** What was still queued when `progressed()` last looked: in the stream, and in libuv's write queue. */
  #queuedBefore = 0;
  #unwrittenBefore = 0;

  constructor(socket: Socket, limits: Pick<Limits, "maxOutputBuffer" | "outputHighWaterMark">, owner: SocketOutputOwner) {
    this.#socket = socket;
    this.#limits = limits;
    this.#owner = owner;
  }

  send(output: OutputChunk | OutputChunk[]): void {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return;
    const backlog = this.#backlog;
    if ((backlog === null || backlog.empty) && !socket.writableNeedDrain) this.#write(output);
    else {
      // The client is behind: what it is owed waits here, counted in the bytes it holds (a
      // socket counts strings in characters), and goes out when the socket drains.
      if (backlog === null) {
        this.#backlog = new OutputBacklog();
        socket.on("drain", () => this.flush());
      }
      this.#backlog!.add(output);
    }
    // Reading stops at the high-water mark, so what still piles up past it is pushes or the
    // replies of commands already received; past the hard limit the client goes.
    const unsent = this.#unsentBytes();
    if (this.#limits.maxOutputBuffer > 0 && unsent > this.#limits.maxOutputBuffer) return this.#owner.overflow(unsent);
    if (this.#drained === null && unsent > this.#limits.outputHighWaterMark) this.#backUp();
  }

  /**
   * True while it holds nothing a fresh SocketOutput would not: it never needed a backlog
   * (nor the drain listener that comes with one) and the client is not behind. Its owner
   * may then let it go and make a new one for the next reply.
   */
  get disposable(): boolean {
    return this.#backlog === null && this.#drained === null;
  }

  /**
   * While the client is not reading its replies: a promise that settles once it has caught
   * up (or the socket closed). Else null.
   */
  blocked(): Promise<void> | null {
    return this.#drained;
  }

  /**
   * True when the client took some of its output since the last call: the kernel accepted
   * more bytes. The idle sweep asks it of a paused connection, whose one large reply may
   * drain for longer than the idle timeout while the client reads all along.
   */
  progressed(): boolean {
    const socket = this.#socket;
    const queued = socket.writableLength; // a write in flight counts whole until it completes
    // libuv's write queue shrinks as the kernel takes a large write piece by piece. It is not
    // public API (TCP and TLS handles both have it), hence the guard: without it, only whole writes count.
    const handle = (socket as unknown as { _handle?: { writeQueueSize?: unknown } })._handle;
    const unwritten = typeof handle?.writeQueueSize === "number" ? handle.writeQueueSize : queued;
    const moved = queued < this.#queuedBefore || unwritten < this.#unwrittenBefore;
    this.#queuedBefore = queued;
    this.#unwrittenBefore = unwritten;
    return moved;
  }

  /** Hands the backlog to the socket (its strings are latin1: one character per byte). */
  flush(): void {
    const socket = this.#socket;
    if (this.#backlog === null || this.#backlog.empty || socket.destroyed || !socket.writable) return;
    socket.cork();
    for (const chunk of this.#backlog.take()) {
      if (typeof chunk === "string") socket.write(chunk, "latin1");
      else socket.write(chunk);
    }
    socket.uncork();
  }

  /**
   * Ends the socket so the replies owed still arrive. Closing a socket that has unread input
   * makes the kernel send a reset, and a reset discards what the client had received but not
   * read yet: the error line saying why it was closed. So what the client still sends is read
   * and dropped until it closes its side, within a bound of bytes here and of time in the
   * statechart; past either, the socket is released anyway.
   */
  lingeringClose(): void {
    this.flush(); // the replies still owed go out before the end
    const socket = this.#socket;
    let dropped = 0;
    socket.on("data", (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > LINGER_BYTES) socket.destroy();
    });
    socket.end();
    socket.resume();
  }

  /**
   * Bytes owed to the client and not yet sent: the socket's queue and the backlog. The queue
   * is exact for what came from the backlog; only the one batch written while the socket
   * was under its own 16 KB high-water mark may count UTF-8 text in characters.
   */
  #unsentBytes(): number {
    return this.#socket.writableLength + (this.#backlog?.bytes ?? 0);
  }

  #write(output: OutputChunk | OutputChunk[]): void {
    const socket = this.#socket;
    if (!Array.isArray(output)) socket.write(output);
    else {
      // Binary replies come as several chunks: cork so they still leave in one write.
      socket.cork();
      for (const chunk of output) socket.write(chunk);
      socket.uncork();
    }
  }

  /**
   * Backpressure: a client that sends commands but does not read the replies would make
   * the server buffer without bound. The owner stops reading from it (its statechart goes to
   * `paused`) until its replies drain; `blocked()` lets the command queue wait for that too.
   */
  #backUp(): void {
    const socket = this.#socket;
    this.#drained = new Promise((resolve) => {
      const caughtUp = () => {
        socket.off("drain", caughtUp);
        socket.off("close", caughtUp);
        this.#drained = null;
        this.#owner.caughtUp();
        resolve();
      };
      socket.on("drain", caughtUp);
      socket.on("close", caughtUp);
    });
    this.#owner.backedUp();
  }
}
