/**
 * RetopyClient: one socket, one FIFO of pending calls. Replies come back in request order,
 * so each reply settles the oldest pending call (src/client/pending-calls.ts); pushes (RESP3
 * `>` frames, RESP2 `message` arrays while subscribed) never do (src/client/subscriptions.ts).
 * The socket and its handshake are in src/client/socket.ts; this file sends calls, routes
 * what is read, and lives through drops, reconnects and closing.
 */
import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { type Argument, encodeRequest } from "../protocol/encode-request.js";
import { ReplyError, type RespFrame } from "../protocol/resp-reader.js";
import { type CommandFunctions, commandNamesOf, type CommandProxy, commandProxy } from "./commands.js";
import { ClientError } from "./errors.js";
import type { RetopyClientOptions } from "./options.js";
import { PendingCalls } from "./pending-calls.js";
import { type Call, type CallOptions, type CallSink, Pipeline } from "./pipeline.js";
import { pushIterator } from "./pushes.js";
import { backoffDelay, DisconnectedQueue, type ReconnectPolicy, reconnectPolicy } from "./reconnect.js";
import { type BufferReply, decodeStrings, type Reply } from "./reply.js";
import { ClientSocket, handshake, type SocketListener, withTimeout } from "./socket.js";
import { confirmationsOf, Subscriptions } from "./subscriptions.js";

export class RetopyClient extends EventEmitter {
  readonly protocol: "resp3" | "resp2";
  readonly #options: RetopyClientOptions;
  #socket: ClientSocket;
  readonly #pending = new PendingCalls();
  readonly #subscriptions = new Subscriptions();
  #closedError: ClientError | null = null;
  #hello: Reply = null;
  #commands: CommandProxy<CommandFunctions> | null = null;
  /** Null until connect succeeded with `reconnect`: drops before that reject `connect`. */
  #policy: ReconnectPolicy | null = null;
  #queue: DisconnectedQueue | null = null;
  /** Set while the connection is down and being re-made; aborted by close()/destroy(). */
  #reconnecting: AbortController | null = null;
  /** Set by close(), so the end it causes is not taken for a drop. */
  #closing = false;
  readonly #listener: SocketListener = {
    frame: (frame) => this.#onFrame(frame),
    malformed: (error) => this.#fail(error),
    gone: (error) => this.#onDrop(error),
  };
  /** What pipelines send through. */
  readonly #sink: CallSink = { sendBatch: (calls, options) => this.#sendBatch(calls, options) };

  private constructor(socket: ClientSocket, options: RetopyClientOptions) {
    super();
    this.protocol = options.protocol ?? "resp3";
    this.#options = options;
    this.#socket = socket;
    socket.listen(this.#listener);
  }

  /** Opens the connection and resolves once the handshake (HELLO, AUTH, SETNAME) is answered. */
  static async connect(options: RetopyClientOptions): Promise<RetopyClient> {
    const started = Date.now();
    const socket = await ClientSocket.open(options);
    const client = new RetopyClient(socket, options);
    try {
      await withTimeout(client.#handshake(), options, started, () => socket.destroy());
    } catch (error) {
      client.destroy();
      throw error;
    }
    client.#policy = reconnectPolicy(options.reconnect);
    if (client.#policy) client.#queue = new DisconnectedQueue(client.#policy.maxQueue);
    return client;
  }

  /** The HELLO reply (a Map with server, version, proto, id, ...) for RESP3; null for RESP2. */
  get hello(): Reply {
    return this.#hello;
  }

  /** True until close(), destroy() or the server closes the connection (with `reconnect`: until it gives up). */
  get isOpen(): boolean {
    return this.#closedError === null;
  }

  /** True while a `reconnect` client is re-making its connection. */
  get isReconnecting(): boolean {
    return this.#reconnecting !== null && this.#closedError === null;
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
    return this.#sendBatch([{ args: [command, ...args], buffers: false }], options)[0] as Promise<Reply>;
  }

  /** As {@link call}, but bulk strings come back as Buffers (binary-safe). */
  callBuffer(command: string, ...args: Argument[]): Promise<BufferReply> {
    return this.#sendBatch([{ args: [command, ...args], buffers: true }], {})[0] as Promise<BufferReply>;
  }

  /** A batch of calls sent in one write by `exec()`. */
  pipeline(): Pipeline {
    return new Pipeline(this.#sink);
  }

  /** The pushes as an async iterator; it ends when the client closes or `signal` aborts. */
  pushes(signal?: AbortSignal): AsyncIterableIterator<Reply[]> {
    return pushIterator(this, signal);
  }

  /** Sends QUIT, waits for its reply (so earlier calls are answered first), then ends the socket; stops a reconnect. */
  async close(timeout = 2000): Promise<void> {
    if (this.#closedError) return;
    if (this.#reconnecting) {
      this.#shutdown(new ClientError("CLOSED", "client closed"));
      return;
    }
    this.#closing = true;
    try {
      await this.callWith({ timeout }, "QUIT");
    } catch {
      // Already closing, or the server did not answer in time: end it anyway.
    }
    this.#socket.end();
    this.#shutdown(new ClientError("CLOSED", "client closed"));
  }

  /** Cuts the connection at once; pending calls reject with a ClientError (code CLOSED). */
  destroy(): void {
    this.#shutdown(new ClientError("CLOSED", "client destroyed"));
    this.#socket.destroy();
  }

  /** Queues `calls` in order and writes them together (or holds them while reconnecting). */
  #sendBatch(calls: readonly Call[], options: CallOptions): Array<Promise<unknown>> {
    if (this.#closedError) {
      const error = this.#closedError;
      return calls.map(() => Promise.reject(error));
    }
    if (this.#reconnecting) {
      if (this.#policy?.whileDisconnected === "queue" && this.#queue) return this.#queue.add(calls, options);
      const error = new ClientError("DISCONNECTED", "disconnected: reconnecting, call not sent");
      return calls.map(() => Promise.reject(error));
    }
    return this.#sendNow(calls, options);
  }

  /** Writes `calls` on the current socket, whatever the state (the handshake runs while reconnecting). */
  #sendNow(calls: readonly Call[], options: CallOptions): Array<Promise<unknown>> {
    if (options.signal?.aborted) {
      // Aborted before it was sent: never sent, so it never runs.
      const error = new ClientError("ABORTED", "call aborted before it was sent", { cause: options.signal.reason });
      return calls.map(() => Promise.reject(error));
    }
    const promises = calls.map(({ args, buffers }) => this.#pending.add(buffers, options, confirmationsOf(args)));
    const bytes = calls.length === 1 ? encodeRequest(calls[0]!.args) : Buffer.concat(calls.map(({ args }) => encodeRequest(args)));
    this.#socket.write(bytes);
    return promises;
  }

  /** One reply or push, in the order read: a reply settles the oldest call, a push never does. */
  #onFrame(frame: RespFrame): void {
    const value = frame.value as BufferReply;
    // RESP2 has no push type: while subscribed, messages are plain arrays.
    const push = frame.push || (this.protocol === "resp2" && this.#subscriptions.isMessage(value, this.#pending.peek()?.subscription));
    if (push) this.#onPush(value as BufferReply[]);
    else this.#settleNext(value);
  }

  #onPush(values: BufferReply[]): void {
    const awaited = this.#pending.peek()?.subscription;
    if (!this.#subscriptions.confirms(values, awaited)) {
      // The bytes as read, for a listener that must pass binary messages on unchanged.
      if (this.listenerCount("pushBuffer") > 0) this.emit("pushBuffer", values);
      this.emit("push", values.map(decodeStrings));
      return;
    }
    // A confirmation of our own SUBSCRIBE/UNSUBSCRIBE: part of that call's answer.
    const count = this.#subscriptions.confirm(values, awaited);
    if (count !== undefined) this.#settleNext(count);
  }

  #settleNext(value: BufferReply): void {
    if (!this.#pending.settleNext(value)) this.#fail(new ClientError("PROTOCOL", "a reply arrived with no call waiting for it"));
  }

  /** The stream can no longer be trusted: close for good, without reconnecting. */
  #fail(error: ClientError): void {
    this.#shutdown(error);
    this.#socket.destroy();
  }

  /** The header line and HELLO (AUTH, SETNAME), then COMMAND DOCS if asked. */
  async #handshake(): Promise<void> {
    const { hello, docs } = await handshake(this.#socket, this.#options, (calls) => this.#sendNow(calls, {}));
    if (hello !== undefined) this.#hello = hello;
    if (docs !== undefined) this.#commands = commandProxy(commandNamesOf(docs), (command, ...args) => this.call(command, ...args));
  }

  /** SUBSCRIBE (PSUBSCRIBE, SSUBSCRIBE) again to what was subscribed before the drop. */
  async #resubscribe(): Promise<void> {
    const calls = this.#subscriptions.takeResubscribe();
    if (calls.length > 0) await Promise.all(this.#sendNow(calls, {}));
  }

  /** The socket ended: close for good, or (with `reconnect`) fail what was in flight and start re-making it. */
  #onDrop(error: ClientError): void {
    if (this.#closedError) return;
    if (!this.#policy || this.#closing) {
      this.#shutdown(error);
      return;
    }
    this.#pending.failAll(new ClientError("CONNECTION_LOST", `connection lost with the call in flight (it may or may not have run): ${error.message}`, { cause: error }));
    this.#subscriptions.dropped();
    // A drop during a reconnect's handshake fails that attempt, and the running loop tries again.
    if (!this.#reconnecting) void this.#reconnectLoop(error);
  }

  /** Tries, with backoff, until connected and handshaken again, closed, or out of attempts. */
  async #reconnectLoop(cause: Error): Promise<void> {
    const policy = this.#policy!;
    const controller = new AbortController();
    this.#reconnecting = controller;
    let lastError = cause;
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      const delay = backoffDelay(policy, attempt);
      this.emit("reconnecting", { attempt, delay, error: lastError });
      try {
        await sleep(delay, undefined, { signal: controller.signal });
        const socket = await ClientSocket.open(this.#options, controller.signal);
        if (controller.signal.aborted) {
          socket.destroy();
          return;
        }
        // Only the current socket reports: the one it replaces is gone already.
        this.#socket.stop();
        this.#socket = socket;
        socket.listen(this.#listener);
        await withTimeout(this.#handshake().then(() => this.#resubscribe()), this.#options, Date.now(), () => socket.destroy());
      } catch (error) {
        if (controller.signal.aborted || this.#closedError) return;
        if (error instanceof ReplyError) {
          // The server refused the handshake (a login no longer accepted): retrying will not help.
          this.#socket.destroy();
          this.#shutdown(new ClientError("CLOSED", `reconnected, but the handshake was refused: ${error.message}`, { cause: error }));
          return;
        }
        lastError = error as Error;
        this.#socket.destroy();
        continue;
      }
      this.#reconnecting = null;
      // Queued calls first, so a `reconnected` listener's calls come after them.
      this.#queue?.flush((calls, options) => this.#sendBatch(calls, options));
      this.emit("reconnected", { attempt });
      return;
    }
    this.#shutdown(new ClientError("CLOSED", `gave up reconnecting after ${policy.maxAttempts} attempts: ${lastError.message}`, { cause: lastError }));
  }

  /** Rejects every pending and queued call with `error`, stops a reconnect, once, and emits `close`. */
  #shutdown(error: ClientError): void {
    if (this.#closedError) return;
    this.#closedError = error;
    this.#socket.stop();
    if (this.#reconnecting) {
      this.#reconnecting.abort();
      this.#reconnecting = null;
      this.#socket.destroy();
    }
    this.#pending.failAll(error);
    this.#queue?.rejectAll(error);
    this.emit("close", error);
  }
}
