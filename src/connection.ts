import type { Socket } from "node:net";
import { nanoid } from "nanoid";
import type { Logger } from "pino";
import { type Actor, type ActorRefFrom, createActor, fromCallback } from "xstate";
import {
  type CloseReason,
  type ConnectionMachine,
  connectionStateOf,
  type HandlerEvent,
  type HandlerInput,
  type HandshakeMode,
  mayRunAuthenticated,
  type ParsedItem,
} from "../machines/connection.machine.js";
import type { SupervisorMachine } from "../machines/supervisor.machine.js";
import type { Application } from "./application.js";
import { CommandRunner, type RunnerHost } from "./command-runner.js";
import type { ConnectionInfo, ConnectionState, ServerInfo } from "./handler.js";
import { parseHeader } from "./protocol/header.js";
import { LineReader } from "./protocol/line-reader.js";
import { splitArgs, UNBALANCED_QUOTES } from "./protocol/split-args.js";
import { type OutputChunk, ReplyOutput } from "./protocol/reply-output.js";
import { textReplyEncoder } from "./protocol/text-reply.js";
import type { ReplyEncoder } from "./reply.js";
import type { StatsBuffer } from "./stats.js";

/** Protocol limits of every connection; see `RetopyServerOptions` for the defaults. */
export interface ConnectionLimits {
  readonly handshake: HandshakeMode;
  readonly maxHeaderSize: number;
  readonly headerTimeout: number;
  readonly maxLineLength: number;
}

/** What the server shares with each of its connections. */
export interface ConnectionServices {
  readonly application: Application;
  readonly server: ServerInfo;
  readonly stats: StatsBuffer;
  readonly logger: Logger;
  readonly limits: ConnectionLimits;
  /** The connection machine with the server's handler actor provided. */
  readonly machine: ConnectionMachine;
  readonly supervisor: ActorRefFrom<SupervisorMachine>;
  /** Live connections by id; the handler actor finds its connection here. */
  readonly registry: Map<string, Connection>;
  /** Called once the socket is fully closed and the connection left the registry. */
  readonly released: (connection: Connection) => void;
}

const TOO_BIG_INLINE = "Protocol error: too big inline request";

/**
 * The handler actor of `machines/connection.machine.ts`, one per connection: it lives while
 * the connection is `open` and owns the command runner. When the connection closes, XState
 * stops it, which stops the runner so nothing more is run or written.
 */
export function createHandlerActor(registry: ReadonlyMap<string, Connection>) {
  return fromCallback<HandlerEvent, HandlerInput>(({ input, receive }) => {
    const connection = registry.get(input.connectionId);
    if (!connection) return undefined;
    const runner = connection._attachRunner();
    receive((event) => runner.enqueue(event.items));
    return () => runner.stop();
  });
}

/**
 * Glue between one socket and its statechart: bytes in become lines, the handshake and
 * each read's batch of commands become events, and the state the machine reaches decides
 * when the socket closes. The connection is also the `this.connection` commands see.
 */
export class Connection implements ConnectionInfo, RunnerHost {
  readonly id: string = nanoid();
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly logger: Logger;
  readonly application: Application;
  readonly server: ServerInfo;
  readonly stats: StatsBuffer;
  readonly encoder: ReplyEncoder = textReplyEncoder;
  readonly #socket: Socket;
  readonly #limits: ConnectionLimits;
  readonly #services: ConnectionServices;
  readonly #reader: LineReader;
  readonly #abort = new AbortController();
  readonly #actor: Actor<ConnectionMachine>;
  #runner: CommandRunner | null = null;
  #closeReason: CloseReason | null = null;
  #drainRequested = false;

  constructor(socket: Socket, services: ConnectionServices) {
    this.#socket = socket;
    this.#limits = services.limits;
    this.#services = services;
    this.application = services.application;
    this.server = services.server;
    this.stats = services.stats;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.logger = services.logger.child({ connection: this.id });
    this.#reader = new LineReader(this.#limits.maxLineLength);
    services.registry.set(this.id, this);

    this.#actor = createActor(services.machine, {
      id: `connection-${this.id}`,
      input: {
        id: this.id,
        handshake: this.#limits.handshake,
        maxHeaderSize: this.#limits.maxHeaderSize,
        headerTimeout: this.#limits.headerTimeout,
        supervisor: services.supervisor,
      },
    });
    this.#actor.subscribe({
      next: (snapshot) => {
        if (snapshot.status === "done") this.#teardown(snapshot.context.closeReason ?? "client_closed");
      },
      // A machine bug must cost one connection, never the process.
      error: (error) => {
        this.logger.error({ err: error }, "connection actor failed");
        this.#socket.destroy();
      },
    });

    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (error) => this.logger.debug({ err: error }, "socket error"));
    socket.on("close", () => this.#onSocketClose());

    this.logger.info({ remoteAddress: this.remoteAddress, remotePort: this.remotePort }, "connection opened");
    this.#actor.start();
    if (this.#limits.handshake === "none") this.#actor.send({ type: "HEADER_IMPLICIT" });
  }

  // ---- ConnectionInfo: what commands see ---------------------------------------------------

  get user(): string | null {
    return this.#actor.getSnapshot().context.user;
  }

  set user(user: string | null) {
    if (this.#actor.getSnapshot().status !== "active") return;
    if (user === null || user === undefined) this.#actor.send({ type: "LOGOUT" });
    else this.#actor.send({ type: "LOGIN", user: String(user) });
  }

  get header(): Readonly<Record<string, string>> {
    return this.#actor.getSnapshot().context.header ?? {};
  }

  get state(): ConnectionState {
    return connectionStateOf(this.#actor.getSnapshot());
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Closes after the reply of the running command; commands queued behind it are dropped. */
  close(): void {
    this.requestClose("quit");
  }

  // ---- RunnerHost: what the handler actor uses ---------------------------------------------

  get connection(): ConnectionInfo {
    return this;
  }

  get closeRequested(): boolean {
    return this.#closeReason !== null;
  }

  requestClose(reason: CloseReason): void {
    this.#closeReason ??= reason;
    if (!this.#runner?.busy) this.closeNow();
  }

  get drainRequested(): boolean {
    return this.#drainRequested;
  }

  isAuthenticated(): boolean {
    return mayRunAuthenticated(this.#actor.getSnapshot());
  }

  send(output: OutputChunk | OutputChunk[]): void {
    if (this.#socket.destroyed || !this.#socket.writable) return;
    if (!Array.isArray(output)) {
      this.#socket.write(output);
      return;
    }
    // Binary replies come as several chunks: cork so they still leave in one write.
    this.#socket.cork();
    for (const chunk of output) this.#socket.write(chunk);
    this.#socket.uncork();
  }

  closeNow(): void {
    this.#sendClose(this.#closeReason ?? "server_closing");
  }

  /** @internal Called by the handler actor when it starts. */
  _attachRunner(): CommandRunner {
    this.#runner = new CommandRunner(this);
    return this.#runner;
  }

  /** @internal The server's graceful close: finish what was received, then close. */
  _drain(): void {
    this.#drainRequested = true;
    this.#socket.pause(); // accept no new commands
    if (!this.#runner?.busy) this.#sendClose("server_closing");
  }

  /** @internal Forced close, for a server shutdown that ran out of time. */
  _destroy(): void {
    this.#sendClose("server_closing");
    this.#socket.destroy();
  }

  // ---- bytes in ----------------------------------------------------------------------------

  #onData(chunk: Buffer): void {
    const { lines, overflow } = this.#reader.push(chunk);
    let first = 0;
    const items: ParsedItem[] = [];
    if (this.#actor.getSnapshot().matches("header")) {
      const header = lines[0];
      if (header === undefined) {
        // Still no newline: refuse a handshake that outgrows its limit before it ends,
        // unless `auto` mode already sees a command there (commands may be long).
        const pending = overflow ? this.#limits.maxLineLength + 1 : this.#reader.buffered;
        if (pending > this.#limits.maxHeaderSize && (overflow || !this.#pendingLineIsCommand())) {
          this.#actor.send({ type: "HEADER", fields: {}, size: pending });
        }
        return;
      }
      first = 1;
      const command = this.#acceptHeader(header);
      if (command) items.push(command);
      if (!this.#actor.getSnapshot().matches("open")) return;
    }
    for (let i = first; i < lines.length; i++) {
      const argv = splitArgs(lines[i]!);
      if (argv === null) items.push({ error: UNBALANCED_QUOTES, close: false });
      else if (argv.length > 0) items.push({ argv });
    }
    if (overflow) {
      items.push({ error: TOO_BIG_INLINE, close: true });
      this.#socket.pause(); // the reader is poisoned: stop reading, reply, then close
    }
    if (items.length > 0) this.#actor.send({ type: "COMMANDS", items });
  }

  /** In `auto` mode: does the unfinished first line start with a registered command word? */
  #pendingLineIsCommand(): boolean {
    if (this.#limits.handshake !== "auto") return false;
    // A command name is a short word; the header limit bounds how far to look for its end.
    const start = this.#reader.peek(this.#limits.maxHeaderSize + 1).toString("latin1");
    const word = /^\s*(\S+)\s/.exec(start)?.[1];
    return word !== undefined && this.application.lookup(word) !== undefined;
  }

  /** Turns the first line into a HEADER event, or, in `auto` mode, into a first command. */
  #acceptHeader(line: Buffer): ParsedItem | null {
    if (this.#limits.handshake === "auto") {
      const argv = splitArgs(line);
      if (argv && argv.length > 0 && this.application.lookup(argv[0]!)) {
        this.#actor.send({ type: "HEADER_IMPLICIT" });
        return { argv };
      }
    }
    const fields = parseHeader(line);
    this.#actor.send({ type: "HEADER", fields, size: line.length });
    if (this.#actor.getSnapshot().matches("open")) this.logger.info({ header: fields }, "handshake");
    return null;
  }

  // ---- closing -----------------------------------------------------------------------------

  #sendClose(reason: CloseReason): void {
    if (this.#actor.getSnapshot().status === "active") this.#actor.send({ type: "CLOSE", reason });
  }

  #onSocketClose(): void {
    this.#sendClose("client_closed");
    this.#services.registry.delete(this.id);
    this.#services.released(this);
  }

  /** The machine reached `closed`: say why if the client should know, then end the socket. */
  #teardown(reason: CloseReason): void {
    this.#abort.abort();
    this.logger.info({ reason }, "connection closed");
    const message =
      reason === "header_too_large"
        ? `Protocol error: header too large (max ${this.#limits.maxHeaderSize} bytes)`
        : reason === "header_timeout"
          ? "Protocol error: header timeout"
          : null;
    if (message) {
      const out = new ReplyOutput();
      this.encoder.encodeError({ code: "ERR", message }, out);
      this.send(out.take());
    }
    if (reason === "client_closed" || reason === "socket_error") this.#socket.destroy();
    // Flush what is owed, then release the socket even if the peer never closes its side.
    else this.#socket.end(() => this.#socket.destroy());
  }
}
