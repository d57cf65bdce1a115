/**
 * The client's socket: connecting (TCP or TLS, within `connectTimeout`), the handshake that
 * opens each connection (header line, HELLO or AUTH / CLIENT SETNAME, COMMAND DOCS), and
 * reading: bytes into a RESP reader, replies and pushes out in order.
 */
import { once } from "node:events";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { Argument } from "../protocol/encode-request.js";
import { formatHeader } from "../protocol/header.js";
import { type RespFrame, RespReader } from "../protocol/resp-reader.js";
import { ClientError } from "./errors.js";
import type { RetopyClientOptions } from "./options.js";
import type { Call } from "./pipeline.js";
import type { Reply } from "./reply.js";

/** What a ClientSocket reports, until it is stopped. */
export interface SocketListener {
  /** A reply or a push, in the order read. */
  frame(frame: RespFrame): void;
  /** Bytes that are not RESP: nothing after them can be framed. */
  malformed(error: ClientError): void;
  /** The socket failed or closed; reported once. */
  gone(error: ClientError): void;
}

export class ClientSocket {
  readonly #socket: Socket;
  /** Buffers, so that callBuffer gets bytes and call decodes once. */
  readonly #reader = new RespReader({ buffers: true, statuses: false });
  #stopped = false;
  #corked = false;

  /** A connected (and for TLS, handshaken) socket, within `connectTimeout`; `signal` cuts it short. */
  static async open(options: RetopyClientOptions, signal?: AbortSignal): Promise<ClientSocket> {
    const { host = "127.0.0.1", port, connectTimeout = 10_000 } = options;
    const socket = options.tls ? tlsConnect({ host, port, ...(options.tls === true ? {} : options.tls) }) : netConnect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(new ClientError("CONNECT", `connect to ${host}:${port} timed out after ${connectTimeout} ms`)), connectTimeout);
    const onAbort = () => socket.destroy(new ClientError("CLOSED", "client closed"));
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await once(socket, options.tls ? "secureConnect" : "connect");
      return new ClientSocket(socket);
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Starts reading and reporting to `listener`: call it as open() resolves, before writing (an error then has a listener). */
  listen(listener: SocketListener): void {
    const socket = this.#socket;
    socket.on("data", (chunk: Buffer) => this.#read(chunk, listener));
    socket.on("error", (error) => this.#gone(listener, new ClientError("CLOSED", `connection error: ${error.message}`, { cause: error })));
    socket.on("close", () => this.#gone(listener, new ClientError("CLOSED", "connection closed")));
  }

  /** Writes `bytes`; what is written in one tick leaves in one write. */
  write(bytes: Buffer | string): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(bytes);
  }

  /** Reports nothing more: the client closed, or moved on to another socket. */
  stop(): void {
    this.#stopped = true;
  }

  /** Ends the socket once what was written is sent. */
  end(): void {
    this.#socket.end();
  }

  /** Cuts the socket at once. */
  destroy(): void {
    this.#socket.destroy();
  }

  #read(chunk: Buffer, listener: SocketListener): void {
    if (this.#stopped) return;
    this.#reader.push(chunk);
    while (!this.#stopped) {
      let frame;
      try {
        frame = this.#reader.next();
      } catch (error) {
        this.#stopped = true;
        listener.malformed(new ClientError("PROTOCOL", `malformed reply: ${(error as Error).message}`, { cause: error }));
        return;
      }
      if (!frame) return;
      listener.frame(frame);
    }
  }

  #gone(listener: SocketListener, error: ClientError): void {
    if (this.#stopped) return;
    this.#stopped = true;
    listener.gone(error);
  }
}

/** Sends calls and returns a promise for each reply: the client's way of calling. */
type Send = (calls: readonly Call[]) => Array<Promise<unknown>>;

/** What the handshake answered: the HELLO reply (RESP3 only) and COMMAND DOCS (when asked). */
export interface Greeting {
  hello: Reply | undefined;
  docs: Reply | undefined;
}

/** The header line, then HELLO (or AUTH / CLIENT SETNAME), SELECT for a `db`, then COMMAND DOCS if asked: at connect and after each reconnect. */
export async function handshake(socket: ClientSocket, options: RetopyClientOptions, send: Send): Promise<Greeting> {
  const protocol = options.protocol ?? "resp3";
  if (options.header) socket.write(formatHeader(Object.entries({ proto: protocol, ...options.header })));
  const user = options.user ?? "default";
  const calls: Call[] = [];
  if (protocol === "resp3") {
    const hello: Argument[] = ["HELLO", "3"];
    if (options.password !== undefined) hello.push("AUTH", user, options.password);
    if (options.name !== undefined) hello.push("SETNAME", options.name);
    calls.push({ args: hello, buffers: false });
  } else {
    if (options.password !== undefined) calls.push({ args: ["AUTH", user, options.password], buffers: false });
    if (options.name !== undefined) calls.push({ args: ["CLIENT", "SETNAME", options.name], buffers: false });
  }
  // A reconnect lands on database 0 again: SELECT is part of every handshake, not of connect only.
  const db = options.db ?? 0;
  if (!Number.isInteger(db) || db < 0) throw new ClientError("CONNECT", `db must be a database number (an integer from 0), not ${String(db)}`);
  if (db !== 0) calls.push({ args: ["SELECT", String(db)], buffers: false });
  if (options.describe) calls.push({ args: ["COMMAND", "DOCS"], buffers: false });
  const replies = (await Promise.all(send(calls))) as Reply[];
  return { hello: protocol === "resp3" ? replies[0] : undefined, docs: options.describe ? replies[replies.length - 1] : undefined };
}

/** `work` within what is left of `connectTimeout` since `started`; past it, `onTimeout` (destroying the socket) and a CONNECT error. */
export async function withTimeout<T>(work: Promise<T>, options: RetopyClientOptions, started: number, onTimeout: () => void): Promise<T> {
  const ms = Math.max(1, (options.connectTimeout ?? 10_000) - (Date.now() - started));
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new ClientError("CONNECT", `handshake with ${options.host ?? "127.0.0.1"}:${options.port} timed out after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
