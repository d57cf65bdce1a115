/**
 * RetopyClient: one socket, one FIFO of pending calls. Replies come back in request order,
 * so each reply settles the oldest pending call; a call that was aborted or timed out keeps
 * its place in the queue and its reply is dropped, so later calls are never shifted.
 * Pushes (RESP3 `>` frames, RESP2 `message` arrays while subscribed) never settle a call.
 */
import { EventEmitter, once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { type Argument, encodeRequest } from "../protocol/encode-request.js";
import { formatHeader } from "../protocol/header.js";
import { ReplyError, RespReader } from "../protocol/resp-reader.js";
import { ClientError } from "./errors.js";
import { type CallOptions, type CallSink, Pipeline } from "./pipeline.js";
import { pushIterator } from "./pushes.js";
import { type BufferReply, decodeStrings, type Reply } from "./reply.js";
import { backoffDelay, DisconnectedQueue, type ReconnectOptions, type ReconnectPolicy, reconnectPolicy } from "./reconnect.js";
import { type CommandFunctions, commandNamesOf, type CommandProxy, commandProxy } from "./commands.js";
import { confirmationsOf, Subscriptions } from "./subscriptions.js";
import { PendingCalls } from "./pending-calls.js";

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
  /**
   * Reconnects after the connection drops (not after close()), with backoff, redoing the
   * handshake and the subscriptions; `true` for the defaults. Absent: a closed client stays closed.
   */
  reconnect?: ReconnectOptions | boolean;
  /** Reads COMMAND DOCS at connect (and after each reconnect) to fill `client.commands`. */
  describe?: boolean;
}

export class RetopyClient extends EventEmitter implements CallSink {
  private readonly pending = new PendingCalls();
  /** The reply reader of the current socket; Buffers so that callBuffer gets bytes and call decodes once. */
  private reader = new RespReader({ buffers: true, statuses: false });
  private closedError: ClientError | null = null;
  private corked = false;
  private readonly subscriptions = new Subscriptions();
  #hello: Reply = null;
  #commands: CommandProxy<CommandFunctions> | null = null;
  /** Null until connect succeeded with `reconnect`: drops before that reject `connect`. */
  private policy: ReconnectPolicy | null = null;
  private queue: DisconnectedQueue | null = null;
  /** Set while the connection is down and being re-made; aborted by close()/destroy(). */
  private reconnecting: AbortController | null = null;
  /** Set by close(), so the end it causes is not taken for a drop. */
  private closing = false;

  private constructor(
    private socket: Socket,
    readonly protocol: "resp3" | "resp2",
    private readonly options: RetopyClientOptions,
  ) {
    super();
    this.attach(socket);
  }

  /** Opens the connection and resolves once the handshake (HELLO, AUTH, SETNAME) is answered. */
  static async connect(options: RetopyClientOptions): Promise<RetopyClient> {
    const started = Date.now();
    const socket = await openSocket(options);
    const client = new RetopyClient(socket, options.protocol ?? "resp3", options);
    try {
      await withTimeout(client.handshake(), options, started, () => socket.destroy());
    } catch (error) {
      client.destroy();
      throw error;
    }
    client.policy = reconnectPolicy(options.reconnect);
    if (client.policy) client.queue = new DisconnectedQueue(client.policy.maxQueue);
    return client;
  }

  /** The HELLO reply (a Map with server, version, proto, id, ...) for RESP3; null for RESP2. */
  get hello(): Reply {
    return this.#hello;
  }

  /** True until close(), destroy() or the server closes the connection (with `reconnect`: until it gives up). */
  get isOpen(): boolean {
    return this.closedError === null;
  }

  /** True while a `reconnect` client is re-making its connection. */
  get isReconnecting(): boolean {
    return this.reconnecting !== null && this.closedError === null;
  }

  /** The server's commands as functions, filled by describe() or the `describe` connect option. */
  get commands(): CommandProxy<CommandFunctions> {
    if (!this.#commands) throw new Error("client.commands is filled by `await client.describe()` or the `describe: true` connect option");
    return this.#commands;
  }

  /** Reads the server's COMMAND DOCS and returns (and keeps as `commands`) one calling function per command. */
  async describe<T = CommandFunctions>(): Promise<CommandProxy<T>> {
    const names = commandNamesOf(await this.call("COMMAND", "DOCS"));
    const proxy = commandProxy<T>(names, (command, ...args) => this.call(command, ...args));
    this.#commands = proxy as CommandProxy<CommandFunctions>;
    return proxy;
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

  /** Sends QUIT, waits for its reply (so earlier calls are answered first), then ends the socket; stops a reconnect. */
  async close(timeout = 2000): Promise<void> {
    if (this.closedError) return;
    if (this.reconnecting) {
      this.shutdown(new ClientError("CLOSED", "client closed"));
      return;
    }
    this.closing = true;
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

  /** @internal Queues `calls` in order and writes them together (or holds them while reconnecting). */
  sendBatch(calls: ReadonlyArray<{ args: readonly Argument[]; buffers: boolean }>, options: CallOptions): Array<Promise<unknown>> {
    if (this.closedError) {
      const error = this.closedError;
      return calls.map(() => Promise.reject(error));
    }
    if (this.reconnecting) {
      if (this.policy?.whileDisconnected === "queue" && this.queue) return this.queue.add(calls, options);
      const error = new ClientError("DISCONNECTED", "disconnected: reconnecting, call not sent");
      return calls.map(() => Promise.reject(error));
    }
    return this.sendNow(calls, options);
  }

  /** Writes `calls` on the current socket, whatever the state (the handshake runs while reconnecting). */
  private sendNow(calls: ReadonlyArray<{ args: readonly Argument[]; buffers: boolean }>, options: CallOptions): Array<Promise<unknown>> {
    if (options.signal?.aborted) {
      // Aborted before it was sent: never sent, so it never runs.
      const error = new ClientError("ABORTED", "call aborted before it was sent", { cause: options.signal.reason });
      return calls.map(() => Promise.reject(error));
    }
    const promises = calls.map(({ args, buffers }) => this.pending.add(buffers, options, confirmationsOf(args)));
    const bytes = calls.length === 1 ? encodeRequest(calls[0]!.args) : Buffer.concat(calls.map(({ args }) => encodeRequest(args)));
    if (!this.corked) {
      // Calls made in the same tick leave in one write.
      this.corked = true;
      const socket = this.socket;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    this.socket.write(bytes);
    return promises;
  }

  /** The header line, then HELLO (or AUTH / CLIENT SETNAME), then COMMAND DOCS if asked: at connect and after each reconnect. */
  private async handshake(): Promise<void> {
    const { options, protocol } = this;
    if (options.header) this.socket.write(formatHeader(Object.entries({ proto: protocol, ...options.header })));
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
    if (options.describe) calls.push({ args: ["COMMAND", "DOCS"], buffers: false });
    const replies = await Promise.all(this.sendNow(calls, {}));
    if (protocol === "resp3") this.#hello = replies[0] as Reply;
    if (options.describe) {
      this.#commands = commandProxy(commandNamesOf(replies[replies.length - 1] as Reply), (command, ...args) => this.call(command, ...args));
    }
  }

  /** SUBSCRIBE (PSUBSCRIBE, SSUBSCRIBE) again to what was subscribed before the drop. */
  private async resubscribe(): Promise<void> {
    const calls = this.subscriptions.takeResubscribe();
    if (calls.length > 0) await Promise.all(this.sendNow(calls, {}));
  }

  /** Listens on `socket`; its end is a drop only once, and only while it is the current socket. */
  private attach(socket: Socket): void {
    let gone = false;
    const onGone = (error: ClientError) => {
      if (gone) return;
      gone = true;
      if (socket === this.socket) this.onDrop(error);
    };
    socket.on("data", (chunk: Buffer) => {
      if (socket === this.socket) this.onData(chunk);
    });
    socket.on("error", (error) => onGone(new ClientError("CLOSED", `connection error: ${error.message}`, { cause: error })));
    socket.on("close", () => onGone(new ClientError("CLOSED", "connection closed")));
  }

  /** The socket ended: close for good, or (with `reconnect`) fail what was in flight and start re-making it. */
  private onDrop(error: ClientError): void {
    if (this.closedError) return;
    if (!this.policy || this.closing) {
      this.shutdown(error);
      return;
    }
    this.pending.failAll(new ClientError("CONNECTION_LOST", `connection lost with the call in flight (it may or may not have run): ${error.message}`, { cause: error }));
    this.reader = new RespReader({ buffers: true, statuses: false });
    this.subscriptions.dropped();
    // A drop during a reconnect's handshake fails that attempt, and the running loop tries again.
    if (!this.reconnecting) void this.reconnectLoop(error);
  }

  /** Tries, with backoff, until connected and handshaken again, closed, or out of attempts. */
  private async reconnectLoop(cause: Error): Promise<void> {
    const policy = this.policy!;
    const controller = new AbortController();
    this.reconnecting = controller;
    let lastError = cause;
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      const delay = backoffDelay(policy, attempt);
      this.emit("reconnecting", { attempt, delay, error: lastError });
      try {
        await sleep(delay, undefined, { signal: controller.signal });
        const socket = await openSocket(this.options, controller.signal);
        if (controller.signal.aborted) {
          socket.destroy();
          return;
        }
        this.socket = socket;
        this.attach(socket);
        await withTimeout(this.handshake().then(() => this.resubscribe()), this.options, Date.now(), () => socket.destroy());
      } catch (error) {
        if (controller.signal.aborted || this.closedError) return;
        if (error instanceof ReplyError) {
          // The server refused the handshake (a login no longer accepted): retrying will not help.
          this.socket.destroy();
          this.shutdown(new ClientError("CLOSED", `reconnected, but the handshake was refused: ${error.message}`, { cause: error }));
          return;
        }
        lastError = error as Error;
        this.socket.destroy();
        continue;
      }
      this.reconnecting = null;
      // Queued calls first, so a `reconnected` listener's calls come after them.
      this.queue?.flush((calls, options) => this.sendBatch(calls, options));
      this.emit("reconnected", { attempt });
      return;
    }
    this.shutdown(new ClientError("CLOSED", `gave up reconnecting after ${policy.maxAttempts} attempts: ${lastError.message}`, { cause: lastError }));
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
    return this.protocol === "resp2" && this.subscriptions.isMessage(value, this.pending.peek()?.subscription);
  }

  private onPush(values: BufferReply[]): void {
    const awaited = this.pending.peek()?.subscription;
    if (!this.subscriptions.confirms(values, awaited)) {
      this.emit("push", values.map(decodeStrings));
      return;
    }
    // A confirmation of our own SUBSCRIBE/UNSUBSCRIBE: part of that call's answer.
    const count = this.subscriptions.confirm(values, awaited);
    if (count !== undefined) this.settleNext(count);
  }

  private settleNext(value: BufferReply): void {
    if (this.pending.settleNext(value)) return;
    this.shutdown(new ClientError("PROTOCOL", "a reply arrived with no call waiting for it"));
    this.socket.destroy();
  }

  /** Rejects every pending and queued call with `error`, stops a reconnect, once, and emits `close`. */
  private shutdown(error: ClientError): void {
    if (this.closedError) return;
    this.closedError = error;
    if (this.reconnecting) {
      this.reconnecting.abort();
      this.reconnecting = null;
      this.socket.destroy();
    }
    this.pending.failAll(error);
    this.queue?.rejectAll(error);
    this.emit("close", error);
  }
}

/** A connected (and for TLS, handshaken) socket, within `connectTimeout`; `signal` cuts it short. */
async function openSocket(options: RetopyClientOptions, signal?: AbortSignal): Promise<Socket> {
  const { host = "127.0.0.1", port, connectTimeout = 10_000 } = options;
  const socket = options.tls ? tlsConnect({ host, port, ...(options.tls === true ? {} : options.tls) }) : netConnect({ host, port });
  socket.setNoDelay(true);
  const timer = setTimeout(() => socket.destroy(new ClientError("CONNECT", `connect to ${host}:${port} timed out after ${connectTimeout} ms`)), connectTimeout);
  const onAbort = () => socket.destroy(new ClientError("CLOSED", "client closed"));
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await once(socket, options.tls ? "secureConnect" : "connect");
    return socket;
  } catch (error) {
    socket.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/** `work` within what is left of `connectTimeout` since `started`; past it, `onTimeout` (destroying the socket) and a CONNECT error. */
async function withTimeout<T>(work: Promise<T>, options: RetopyClientOptions, started: number, onTimeout: () => void): Promise<T> {
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
