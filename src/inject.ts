import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import type { Connection } from "./connection.js";
import type { CommandTable } from "./handler.js";
import { RetopyError } from "./errors.js";
import { encodeRequest } from "./protocol/encode-request.js";
import { formatHeader } from "./protocol/header.js";
import { ReplyOutput } from "./protocol/reply-output.js";
import { ReplyError, RespReader, type RespReplyValue } from "./protocol/resp-reader.js";
import { quoteArgs } from "./protocol/quote-args.js";
import { splitArgs } from "./protocol/split-args.js";
import { textReplyEncoder } from "./protocol/text-reply.js";
import type { ReplyValue } from "./reply.js";
import { RetopyServer } from "./server.js";
import { WireErrors } from "./protocol/wire-errors.js";

/**
 * `app.inject()`: runs commands through a real `Connection` (its statechart, the handler
 * actor, the command runner, under the server's supervisor) with only the socket replaced
 * by an in-memory one, as Fastify's `inject()` does for HTTP. The connection speaks RESP3
 * (the header line `proto=resp3` opens it), so every reply has a framing and decodes
 * exactly; `text` is that reply printed by the text protocol's own encoder.
 */

/** A command: a text line (split like the text protocol: quotes, escapes) or its arguments. */
export type InjectCommand = string | readonly (string | Uint8Array)[];

export interface InjectOptions {
  /** Logged in before the first command, as a command's `this.connection.user = user` does. */
  user?: string | undefined;
  /**
   * `resp3` (default) or `resp2`: the reply is decoded into `value`, and `text` is that reply
   * printed by the text protocol's encoder. Only RESP3 tells pushes from replies. `text`: the
   * connection speaks the text protocol, `text` is its exact bytes and `value` is undefined.
   */
  protocol?: "resp3" | "resp2" | "text" | undefined;
  /** Handshake fields (`this.connection.header`); `auth: "user:password"` logs in as a client's header would. `proto` is set by `protocol`. */
  header?: Readonly<Record<string, string>> | undefined;
  /** `this.connection.remoteAddress` (default `127.0.0.1`) and `remotePort` (default 0). */
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
}

/** What one command answered. */
export interface InjectResult {
  /**
   * The reply as a JS value (see `RespReader`): numbers, strings, null, booleans, arrays,
   * Sets, Maps (plain objects too), bigint, and a status as `Status` (`status("OK")`, so
   * `result.value === status("OK")`). Undefined for an error reply or a command that sent
   * no reply of its own (`skipReply()`, e.g. SUBSCRIBE).
   */
  readonly value: RespReplyValue | undefined;
  /** The error reply (`-CODE message`) or null. */
  readonly error: { readonly code: string; readonly message: string } | null;
  /**
   * The reply as the text protocol prints it (pushes made during the command first), CRLF
   * line ends. Over RESP it is rendered from the decoded reply, so a command that answers
   * differently per protocol (the `@authenticated` refusal is `-NOAUTH ...` over RESP and
   * `-ERR Authorization required` in text) shows its RESP answer; `protocol: "text"` gives the real bytes.
   */
  readonly text: string;
  /** The pushes (pub/sub messages) that arrived while the command ran, each an array. */
  readonly pushes: readonly RespReplyValue[][];
}

/**
 * The in-memory stand-in for the `net.Socket` a `Connection` uses: what the server writes
 * goes to `#onOutput` at once (so `writableLength` stays 0), and `deliver()` is the client
 * sending, honouring `pause()`.
 */
class InjectSocket extends EventEmitter {
  readonly remoteAddress: string;
  readonly remotePort: number;
  destroyed = false;
  #ended = false;
  #paused = false;
  #corked = 0;
  #corkedChunks: Buffer[] = [];
  #input: Buffer[] = [];
  readonly #onOutput: (chunk: Buffer) => void;

  constructor(onOutput: (chunk: Buffer) => void, remoteAddress: string, remotePort: number) {
    super();
    this.#onOutput = onOutput;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
  }

  get writable(): boolean {
    return !this.#ended && !this.destroyed;
  }

  readonly writableLength = 0;

  setNoDelay(): this {
    return this;
  }

  write(chunk: string | Uint8Array, callback?: () => void): boolean {
    if (!this.writable) return false;
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk);
    if (this.#corked > 0) this.#corkedChunks.push(bytes);
    else this.#onOutput(bytes);
    if (callback) process.nextTick(callback);
    return true;
  }

  cork(): void {
    this.#corked++;
  }

  uncork(): void {
    if (this.#corked === 0 || --this.#corked > 0) return;
    const chunks = this.#corkedChunks;
    this.#corkedChunks = [];
    if (chunks.length > 0) this.#onOutput(Buffer.concat(chunks));
  }

  pause(): this {
    this.#paused = true;
    return this;
  }

  resume(): this {
    this.#paused = false;
    while (!this.#paused && !this.destroyed && this.#input.length > 0) this.emit("data", this.#input.shift());
    return this;
  }

  /** The client sends `chunk`. */
  deliver(chunk: Buffer): void {
    if (this.destroyed) return;
    if (this.#paused) this.#input.push(chunk);
    else this.emit("data", chunk);
  }

  end(data?: string | Uint8Array | (() => void), callback?: () => void): this {
    if (typeof data === "function") callback = data;
    else if (data !== undefined) this.write(data);
    this.#ended = true;
    if (callback) process.nextTick(callback);
    // The in-memory client always closes its side at once, so the socket closes.
    this.destroy();
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.#input = [];
    process.nextTick(() => this.emit("close", false));
    return this;
  }
}

/** One server per application, never listening, its logger off: only its connection-making is used. */
const servers = new WeakMap<CommandTable, RetopyServer>();

function serverFor(application: CommandTable): RetopyServer {
  let server = servers.get(application);
  if (!server) {
    server = new RetopyServer(application, { logger: false });
    servers.set(application, server);
  }
  return server;
}

const HEADER_VALUE = /^[^\s"']*$/;

function headerLine(options: InjectOptions): string {
  const protocol = options.protocol ?? "resp3";
  if (!["resp3", "resp2", "text"].includes(protocol)) {
    throw new RetopyError("RETOPY_INVALID_OPTION", `inject protocol must be "resp3", "resp2" or "text", not '${String(protocol)}'`);
  }
  const fields: Array<[string, string]> = protocol === "text" ? [] : [["proto", protocol]];
  for (const [key, value] of Object.entries(options.header ?? {})) {
    if (key.toLowerCase() === "proto") continue;
    if (!/^[A-Za-z0-9_.-]+$/.test(key) || !HEADER_VALUE.test(String(value))) {
      throw new RetopyError("RETOPY_INVALID_OPTION", `inject header field '${key}' must be a word and its value have no spaces or quotes`);
    }
    fields.push([key, String(value)]);
  }
  return formatHeader(fields);
}

function textOf(pushes: readonly RespReplyValue[][], reply: RespReplyValue | undefined, error: InjectResult["error"]): string {
  const out = new ReplyOutput();
  for (const push of pushes) textReplyEncoder.encodePush(push as ReplyValue[], out);
  if (error) textReplyEncoder.encodeError(error, out);
  else if (reply !== undefined) textReplyEncoder.encodeValue(reply as ReplyValue, out);
  const taken = out.take();
  if (typeof taken === "string") return taken;
  const chunks: readonly (string | Buffer)[] = Array.isArray(taken) ? taken : [taken];
  return chunks.map((chunk) => chunk.toString()).join("");
}

interface Step {
  readonly request: Buffer;
  readonly resolve: (result: InjectResult) => void;
  readonly reject: (error: Error) => void;
  pushes: RespReplyValue[][];
  /** What the text protocol wrote for this step (protocol `text` only). */
  raw: Buffer[];
  /** Runs as the step settles, before the next one is sent. */
  readonly settled?: (() => void) | undefined;
}

/**
 * A connection driven from code: `run()` sends one command and resolves with its reply.
 * Commands run one after another (each is sent once the one before has replied), so
 * calls made without awaiting still get their own replies, in order.
 */
export class InjectedConnection {
  /** Every push received so far (pub/sub messages), in order. */
  readonly pushes: RespReplyValue[][] = [];
  /** What the handshake answered: nothing (value undefined) unless a header `auth` was refused. */
  readonly handshake: Promise<InjectResult>;
  readonly #socket: InjectSocket;
  readonly #connection: Connection;
  readonly #reader = new RespReader();
  readonly #text: boolean;
  readonly #queue: Step[] = [];
  #current: Step | null = null;
  #closed = false;
  readonly #gone: Promise<void>;

  constructor(application: CommandTable, options: InjectOptions = {}) {
    const header = headerLine(options);
    this.#text = options.protocol === "text";
    this.#socket = new InjectSocket((chunk) => this.#onOutput(chunk), options.remoteAddress ?? "127.0.0.1", options.remotePort ?? 0);
    this.#gone = new Promise((resolve) => this.#socket.once("close", () => resolve()));
    this.#socket.once("close", () => this.#onClose());
    this.#connection = serverFor(application)._connect(this.#socket as unknown as Socket);
    // An async command that ends without a write (a header login, an async skipReply())
    // is noticed when the connection's queue runs dry.
    this.#connection._onIdle(() => this.#settleIfReplyless());
    const user = options.user;
    // The login happens as the handshake settles, before the first command is sent.
    const login = user === undefined ? undefined : () => void (this.#connection.user = user);
    this.handshake = this.#enqueue(Buffer.from(header, "utf8"), login);
  }

  /** Sends one command; resolves with its reply. Rejects once the connection is closed (after `quit`, say). */
  run(command: InjectCommand): Promise<InjectResult> {
    let argv: readonly (string | Uint8Array)[] | null;
    if (typeof command === "string") {
      if (this.#text && /[\r\n]/.test(command)) {
        return Promise.reject(new RetopyError("RETOPY_INVALID_COMMAND", "an injected text line cannot contain CR or LF (that would be two commands)"));
      }
      argv = splitArgs(Buffer.from(command, "utf8"));
      if (argv === null) {
        const error = WireErrors.unbalancedQuotes;
        return Promise.resolve({ value: undefined, error, text: textOf([], undefined, error), pushes: [] });
      }
    } else argv = command;
    if (argv.length === 0) return Promise.reject(new RetopyError("RETOPY_INVALID_COMMAND", "inject needs a command"));
    if (!this.#text) return this.#enqueue(encodeRequest(argv));
    const words = argv.map((arg) => (typeof arg === "string" ? arg : Buffer.from(arg).toString("utf8")));
    return this.#enqueue(Buffer.from(`${typeof command === "string" ? command : quoteArgs(words)}\r\n`, "utf8"));
  }

  /** True once the connection closed (by `close()`, `quit`, or the server). */
  get closed(): boolean {
    return this.#closed || this.#socket.destroyed;
  }

  /** Lets queued commands finish, then closes the connection; resolves once the server released it. */
  async close(): Promise<void> {
    if (!this.#closed) {
      await new Promise<void>((resolve) => {
        this.#queue.push(closeStep(resolve));
        if (this.#current === null) this.#next();
      });
    }
    this.#socket.destroy();
    await this.#gone;
  }

  #enqueue(request: Buffer, settled?: () => void): Promise<InjectResult> {
    if (this.#closed) return Promise.reject(new RetopyError("RETOPY_SERVER_STATE", "the injected connection is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject, pushes: [], raw: [], settled });
      if (this.#current === null) this.#next();
    });
  }

  #next(): void {
    while (this.#current === null && this.#queue.length > 0 && !this.#closed) {
      const step = this.#queue.shift()!;
      if (step.request.length === 0) {
        // close()'s marker: everything before it has answered.
        step.resolve(EMPTY_RESULT);
        continue;
      }
      if (this.#socket.destroyed) {
        // The server closed it (quit, a lockout) and its close event is on its way.
        step.reject(closedError());
        continue;
      }
      this.#current = step;
      this.#socket.deliver(step.request);
      // A synchronous command that sent no reply of its own is finished by now; an async
      // one is settled by the connection's idle signal (constructor).
      this.#settleIfReplyless();
    }
  }

  #onOutput(chunk: Buffer): void {
    if (this.#text) {
      this.#current?.raw.push(chunk);
      this.#settleIfReplyless();
      return;
    }
    this.#reader.push(chunk);
    let frame;
    while ((frame = this.#reader.next()) !== undefined) {
      const value = frame.value;
      if (frame.push && Array.isArray(value)) {
        this.pushes.push(value);
        this.#current?.pushes.push(value);
        continue;
      }
      this.#finish(value instanceof ReplyError ? undefined : value, value instanceof ReplyError ? value : null);
    }
    this.#settleIfReplyless();
  }

  /** The connection is idle but the command has no reply: it answered with pushes only, or (the handshake) nothing. */
  #settleIfReplyless(): void {
    if (this.#current !== null && !this.#socket.destroyed && !this.#connection._busy && this.#reader.pending === 0) this.#finish(undefined, null);
  }

  #finish(value: RespReplyValue | undefined, error: ReplyError | null): void {
    const step = this.#current;
    if (step === null) return; // a reply nobody asked for (not expected)
    this.#current = null;
    if (!this.#closed) step.settled?.();
    if (this.#text) {
      const text = Buffer.concat(step.raw).toString("utf8");
      // One line `-CODE message` is an error reply; anything else is a value printed as text.
      const line = /^-(\S+) ?(.*)\r\n$/.exec(text);
      const textError = line && !line[2]!.includes("\r\n") ? { code: line[1]!, message: line[2]! } : null;
      step.resolve({ value: undefined, error: textError, text, pushes: [] });
    } else {
      const reported = error && { code: error.code, message: error.message };
      step.resolve({ value, error: reported, text: textOf(step.pushes, value, reported), pushes: step.pushes });
    }
    queueMicrotask(() => this.#next());
  }

  #onClose(): void {
    this.#closed = true;
    const failure = closedError;
    this.#current?.reject(failure());
    this.#current = null;
    for (const step of this.#queue.splice(0)) {
      if (step.request.length === 0) step.resolve(EMPTY_RESULT);
      else step.reject(failure());
    }
  }
}

function closedError(): RetopyError {
  return new RetopyError("RETOPY_SERVER_STATE", "the injected connection closed before the command replied");
}

const EMPTY_RESULT: InjectResult = Object.freeze({ value: undefined, error: null, text: "", pushes: [] });

function closeStep(resolve: () => void): Step {
  return { request: Buffer.alloc(0), resolve: () => resolve(), reject: () => resolve(), pushes: [], raw: [], settled: undefined };
}

/** `app.inject(command, options)`: one command on a connection of its own, closed afterwards. */
export async function inject(application: CommandTable, command: InjectCommand, options: InjectOptions = {}): Promise<InjectResult> {
  const connection = new InjectedConnection(application, options);
  try {
    return await connection.run(command);
  } finally {
    await connection.close();
  }
}

/** `app.injectAll(commands, options)`: several commands on one connection, in order, then closed. */
export async function injectAll(
  application: CommandTable,
  commands: readonly InjectCommand[],
  options: InjectOptions = {},
): Promise<InjectResult[]> {
  const connection = new InjectedConnection(application, options);
  try {
    const results: InjectResult[] = [];
    for (const command of commands) results.push(await connection.run(command));
    return results;
  } finally {
    await connection.close();
  }
}
