/**
 * RetopyClient: one socket, one FIFO of pending calls. Replies come back in request order,
 * so each reply settles the oldest pending call; a call that was aborted or timed out keeps
 * its place in the queue and its reply is dropped, so later calls are never shifted.
 * Pushes (RESP3 `>` frames, RESP2 `message` arrays while subscribed) never settle a call.
 */
import { EventEmitter, once } from "node:events";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { type Argument, encodeRequest } from "./encode-request.js";
import { ReplyError, RespReader } from "../protocol/resp-reader.js";
import { ClientError } from "./errors.js";
import { type CallOptions, type CallSink, Pipeline } from "./pipeline.js";
import { pushIterator } from "./pushes.js";
import { type BufferReply, decodeStrings, type Reply } from "./reply.js";

export interface RetopyClientOptions {
  host?: string;
  port: number;
  /** `node:tls` connect options (`ca`, `servername`, ...), or true for the defaults; absent = plain TCP. */
  tls?: ConnectionOptions | true;
  /** `"resp3"` (default) sends HELLO 3; `"resp2"` stays on RESP2. */
  protocol?: "resp3" | "resp2";
  /** Logs in at connect (user defaults to `default`). */
  user?: string;
  password?: string;
  /** Names the connection (HELLO SETNAME / CLIENT SETNAME). */
  name?: string;
  /** A retopy handshake line of `key=value` tokens, sent first (with `proto=` added). */
  header?: Record<string, string>;
  /** Milliseconds for the socket, TLS handshake and HELLO together; default 10000. */
  connectTimeout?: number;
}

/** Subscription commands are answered by confirmation pushes, not by a reply. */
const SUBSCRIPTION = new Set(["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"]);
/** RESP2 arrays that are messages, not replies, once the client has subscribed. */
const MESSAGE_KINDS = new Set(["message", "pmessage", "smessage"]);

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  buffers: boolean;
  /** Set once aborted or timed out: its reply is still awaited, then dropped. */
  settled: boolean;
  /** For subscription commands: the confirmations still expected (-1: until the count is 0). */
  subscription?: { kind: string; remaining: number };
  cleanup?: () => void;
}

export class RetopyClient extends EventEmitter implements CallSink {
  private readonly pending: Pending[] = [];
  private head = 0;
  /** The shared reply reader; Buffers so that callBuffer gets bytes and call decodes once. */
  private readonly reader = new RespReader({ buffers: true, statuses: false });
  private closedError: ClientError | null = null;
  private corked = false;
  /** Channels and patterns subscribed, as the last confirmation said. */
  private subscriptions = 0;
  #hello: Reply = null;

  private constructor(
    private readonly socket: Socket,
    readonly protocol: "resp3" | "resp2",
  ) {
    super();
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => this.shutdown(new ClientError("CLOSED", `connection error: ${error.message}`, { cause: error })));
    socket.on("close", () => this.shutdown(new ClientError("CLOSED", "connection closed")));
  }

  /** Opens the connection and resolves once the handshake (HELLO, AUTH, SETNAME) is answered. */
  static async connect(options: RetopyClientOptions): Promise<RetopyClient> {
    const { host = "127.0.0.1", port, protocol = "resp3", connectTimeout = 10_000 } = options;
    const socket = options.tls
      ? tlsConnect({ host, port, ...(options.tls === true ? {} : options.tls) })
      : netConnect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(new ClientError("CONNECT", `connect to ${host}:${port} timed out after ${connectTimeout} ms`)), connectTimeout);
    try {
      await once(socket, options.tls ? "secureConnect" : "connect");
      const client = new RetopyClient(socket, protocol);
      if (options.header) socket.write(headerLine(options.header, protocol));
      const user = options.user ?? "default";
      const calls: Array<{ args: Argument[]; buffers: boolean }> = [];
      if (protocol === "resp3") {
        const hello: Argument[] = ["HELLO", "3"];
        if (options.password !== undefined) hello.push("AUTH", user, options.password);
        if (options.name !== undefined) hello.push("SETNAME", options.name);
        calls.push({ args: hello, buffers: false });
      } else {
        if (options.password !== undefined) calls.push({ args: ["AUTH", user, options.password], buffers: false });
        if (options.name !== undefined) calls.push({ args: ["CLIENT", "SETNAME", options.name], buffers: false });
      }
      try {
        const replies = await Promise.all(client.sendBatch(calls, {}));
        if (protocol === "resp3") client.#hello = replies[0] as Reply;
      } catch (error) {
        client.destroy();
        throw error;
      }
      return client;
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The HELLO reply (a Map with server, version, proto, id, ...) for RESP3; null for RESP2. */
  get hello(): Reply {
    return this.#hello;
  }

  /** True until close(), destroy() or the server closes the connection. */
  get isOpen(): boolean {
    return this.closedError === null;
  }

  /** Sends one command; resolves its reply with bulk strings as UTF-8 strings, rejects on an error reply. */
  call(command: string, ...args: Argument[]): Promise<Reply> {
    return this.callWith({}, command, ...args);
  }

  /** As {@link call}, with per-call options. */
  callWith(options: CallOptions, command: string, ...args: Argument[]): Promise<Reply> {
    return this.sendBatch([{ args: [command, ...args], buffers: false }], options)[0] as Promise<Reply>;
  }

  /** As {@link call}, but bulk strings come back as Buffers (binary-safe). */
  callBuffer(command: string, ...args: Argument[]): Promise<BufferReply> {
    return this.sendBatch([{ args: [command, ...args], buffers: true }], {})[0] as Promise<BufferReply>;
  }

  /** A batch of calls sent in one write by `exec()`. */
  pipeline(): Pipeline {
    return new Pipeline(this);
  }

  /** The pushes as an async iterator; it ends when the client closes or `signal` aborts. */
  pushes(signal?: AbortSignal): AsyncIterableIterator<Reply[]> {
    return pushIterator(this, signal);
  }

  /** Sends QUIT, waits for its reply (so earlier calls are answered first), then ends the socket. */
  async close(timeout = 2000): Promise<void> {
    if (this.closedError) return;
    try {
      await this.callWith({ timeout }, "QUIT");
    } catch {
      // Already closing, or the server did not answer in time: end it anyway.
    }
    this.socket.end();
    this.shutdown(new ClientError("CLOSED", "client closed"));
  }

  /** Cuts the connection at once; pending calls reject with a ClientError (code CLOSED). */
  destroy(): void {
    this.shutdown(new ClientError("CLOSED", "client destroyed"));
    this.socket.destroy();
  }

  /** @internal Queues `calls` in order and writes them together. */
  sendBatch(calls: ReadonlyArray<{ args: readonly Argument[]; buffers: boolean }>, options: CallOptions): Array<Promise<unknown>> {
    if (this.closedError) {
      const error = this.closedError;
      return calls.map(() => Promise.reject(error));
    }
    if (options.signal?.aborted) {
      // Aborted before it was sent: never sent, so it never runs.
      const error = new ClientError("ABORTED", "call aborted before it was sent", { cause: options.signal.reason });
      return calls.map(() => Promise.reject(error));
    }
    const promises = calls.map(({ args, buffers }) => this.enqueue(args, buffers, options));
    const bytes = calls.length === 1 ? encodeRequest(calls[0]!.args) : Buffer.concat(calls.map(({ args }) => encodeRequest(args)));
    if (!this.corked) {
      // Calls made in the same tick leave in one write.
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
    return promises;
  }

  private enqueue(args: readonly Argument[], buffers: boolean, { signal, timeout }: CallOptions): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const entry: Pending = { resolve, reject, buffers, settled: false };
      const name = String(args[0]).toLowerCase();
      if (SUBSCRIPTION.has(name)) entry.subscription = { kind: name, remaining: args.length > 1 ? args.length - 1 : name.endsWith("unsubscribe") ? -1 : 1 };
      const giveUp = (error: Error) => {
        if (entry.settled) return;
        entry.settled = true;
        entry.cleanup?.();
        reject(error);
      };
      const onAbort = () => giveUp(new ClientError("ABORTED", "call aborted", { cause: signal?.reason }));
      signal?.addEventListener("abort", onAbort, { once: true });
      const timer = timeout ? setTimeout(() => giveUp(new ClientError("TIMEOUT", `no reply within ${timeout} ms`)), timeout) : undefined;
      if (signal || timer) {
        entry.cleanup = () => {
          signal?.removeEventListener("abort", onAbort);
          clearTimeout(timer);
        };
      }
      this.pending.push(entry);
    });
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    for (;;) {
      let frame;
      try {
        frame = this.reader.next();
      } catch (error) {
        this.shutdown(new ClientError("PROTOCOL", `malformed reply: ${(error as Error).message}`, { cause: error }));
        this.socket.destroy();
        return;
      }
      if (!frame || this.closedError) return;
      const value = frame.value as BufferReply;
      if (frame.push || this.isMessage(value)) this.onPush(value as BufferReply[]);
      else this.settleNext(value);
    }
  }

  /** A RESP2 array that is a pub/sub message or a subscription confirmation, not a reply. */
  private isMessage(value: BufferReply): boolean {
    if (this.protocol !== "resp2" || !Array.isArray(value) || !Buffer.isBuffer(value[0])) return false;
    const kind = value[0].toString("latin1").toLowerCase();
    if (this.subscriptions > 0 && MESSAGE_KINDS.has(kind)) return true;
    return this.peek()?.subscription?.kind === kind;
  }

  private onPush(values: BufferReply[]): void {
    const kind = Buffer.isBuffer(values[0]) ? values[0].toString("latin1").toLowerCase() : "";
    const head = this.peek();
    if (head?.subscription && head.subscription.kind === kind && values.length === 3) {
      // A confirmation of our own SUBSCRIBE/UNSUBSCRIBE: part of that call's answer.
      const count = typeof values[2] === "number" ? values[2] : 0;
      this.subscriptions = count;
      const sub = head.subscription;
      if (sub.remaining > 0) sub.remaining--;
      if (sub.remaining === 0 || (sub.remaining === -1 && count === 0)) this.settleNext(count);
      return;
    }
    this.emit("push", values.map(decodeStrings));
  }

  private peek(): Pending | undefined {
    return this.pending[this.head];
  }

  private settleNext(value: BufferReply): void {
    const entry = this.pending[this.head];
    if (!entry) {
      this.shutdown(new ClientError("PROTOCOL", "a reply arrived with no call waiting for it"));
      this.socket.destroy();
      return;
    }
    this.pending[this.head] = undefined as unknown as Pending;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    if (entry.settled) return;
    entry.settled = true;
    entry.cleanup?.();
    if (value instanceof ReplyError) entry.reject(value);
    else entry.resolve(entry.buffers ? value : decodeStrings(value));
  }

  /** Rejects every pending call with `error`, once, and emits `close`. */
  private shutdown(error: ClientError): void {
    if (this.closedError) return;
    this.closedError = error;
    const waiting = this.pending.splice(this.head);
    this.head = 0;
    this.pending.length = 0;
    for (const entry of waiting) {
      if (entry.settled) continue;
      entry.settled = true;
      entry.cleanup?.();
      entry.reject(error);
    }
    this.emit("close", error);
  }
}

/** `proto=resp3 key=value ...\r\n`, values quoted when they hold spaces or quotes. */
function headerLine(header: Record<string, string>, protocol: string): string {
  const fields: Record<string, string> = { proto: protocol, ...header };
  const tokens = Object.entries(fields).map(([key, value]) => (/^[^\s"'\\]*$/.test(value) ? `${key}=${value}` : `${key}="${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`));
  return `${tokens.join(" ")}\r\n`;
}
