import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import type { Logger } from "pino";
import { type Actor, createActor } from "xstate";
import { connectionMachine, HANDLER_SYSTEM_ID, type HandshakeMode } from "../machines/connection.machine.js";
import { supervisorMachine } from "../machines/supervisor.machine.js";
import { type Application, isApplication } from "./application.js";
import { Connection, type ConnectionLimits, type ConnectionServices } from "./connection.js";
import { createHandlerActor } from "./handler-actor.js";
import { RetopyError } from "./errors.js";
import type { ConnectionInfo, ServerInfo } from "./handler.js";
import { createLogger, type LoggerOption } from "./logger.js";
import { PubSub } from "./pubsub.js";
import { type ServerStats, StatsBuffer } from "./stats.js";

export interface RetopyServerOptions {
  /** pino instance, pino options, `true` (info, the default) or `false` (silent). */
  logger?: LoggerOption;
  /**
   * How the first line is treated. `auto` (default): a registered command runs at once,
   * anything else is the header; `line`: always the header (the original retopy); `none`: no header.
   */
  handshake?: HandshakeMode;
  /** Longest handshake line in bytes; longer closes the connection (default 255). */
  maxHeaderSize?: number;
  /** Milliseconds to wait for the handshake line, 0 = forever (default 60000). */
  headerTimeout?: number;
  /** Longest inline command line in bytes (default 64 KiB, as Redis's inline limit). */
  maxLineLength?: number;
  /** Longest bulk string in a RESP request (default 512 MiB, as Redis's proto-max-bulk-len). */
  maxBulkLength?: number;
  /** Most arguments in one RESP request (default 1,048,576). */
  maxArgs?: number;
}

export interface ListenOptions {
  port?: number;
  host?: string;
}

export interface CloseOptions {
  /** Milliseconds to let running commands finish before connections are cut (default 5000). */
  timeout?: number;
}

const DEFAULT_LIMITS: ConnectionLimits = {
  handshake: "auto",
  maxHeaderSize: 255,
  headerTimeout: 60_000,
  maxLineLength: 64 * 1024,
  maxBulkLength: 512 * 1024 * 1024,
  maxArgs: 1024 * 1024,
};

function checkLimits(options: RetopyServerOptions): ConnectionLimits {
  const limits = {
    handshake: options.handshake ?? DEFAULT_LIMITS.handshake,
    maxHeaderSize: options.maxHeaderSize ?? DEFAULT_LIMITS.maxHeaderSize,
    headerTimeout: options.headerTimeout ?? DEFAULT_LIMITS.headerTimeout,
    maxLineLength: options.maxLineLength ?? DEFAULT_LIMITS.maxLineLength,
    maxBulkLength: options.maxBulkLength ?? DEFAULT_LIMITS.maxBulkLength,
    maxArgs: options.maxArgs ?? DEFAULT_LIMITS.maxArgs,
  };
  if (!["auto", "line", "none"].includes(limits.handshake)) {
    throw new RetopyError("RETOPY_INVALID_OPTION", `handshake must be "auto", "line" or "none", not '${String(limits.handshake)}'`);
  }
  for (const key of ["maxHeaderSize", "headerTimeout", "maxLineLength", "maxBulkLength", "maxArgs"] as const) {
    if (!Number.isFinite(limits[key]) || limits[key] < 0) {
      throw new RetopyError("RETOPY_INVALID_OPTION", `${key} must be a non-negative number`);
    }
  }
  return limits;
}

/**
 * Serves an Application over TCP. Owns the listening socket, the supervisor actor and one
 * Connection (socket + statechart + handler actor) per client.
 */
export class RetopyServer {
  readonly application: Application;
  readonly logger: Logger;
  /** The supervisor actor: global counters and the server's running/draining/stopped state. */
  readonly supervisor: Actor<typeof supervisorMachine>;
  /** The server's pub/sub channels, shared by its connections (`this.server.pubsub` in commands). */
  readonly pubsub = new PubSub();
  readonly #server: Server;
  readonly #registry = new Map<string, Connection>();
  readonly #services: ConnectionServices;
  #closing: Promise<void> | null = null;
  /** Resolves `close()` once the last connection is released. */
  #onEmpty: (() => void) | null = null;

  constructor(application: Application, options: RetopyServerOptions = {}) {
    if (!isApplication(application)) {
      throw new RetopyError("RETOPY_INVALID_OPTION", "RetopyServer needs an Application");
    }
    this.application = application;
    this.logger = createLogger(options.logger);
    const supervisor = supervisorMachine.provide({ actors: { handler: createHandlerActor(this.#registry, this.logger) } });
    this.supervisor = createActor(supervisor, { id: "supervisor", input: { startedAt: Date.now() } });
    this.supervisor.subscribe({ error: (error) => this.logger.error({ err: error }, "supervisor failed") });
    this.supervisor.start();
    const handler = this.supervisor.system.get(HANDLER_SYSTEM_ID) as ConnectionServices["handler"] | undefined;
    if (!handler) throw new RetopyError("RETOPY_SERVER_STATE", "the supervisor did not start its handler actor");
    const stats = new StatsBuffer(this.supervisor);
    const server: ServerInfo = { stats: () => stats.read(), pubsub: this.pubsub };
    this.#services = {
      application,
      server,
      stats,
      logger: this.logger,
      limits: checkLimits(options),
      machine: connectionMachine,
      supervisor: this.supervisor,
      handler,
      registry: this.#registry,
      counters: { clientIds: 0 },
      released: (connection) => {
        // Subscriptions already went when the connection closed; this is the backstop.
        this.pubsub.unsubscribeAll(connection);
        if (this.#registry.size === 0) this.#onEmpty?.();
      },
    };
    this.#server = createServer((socket) => this.#accept(socket));
    // Errors of a pending listen() reject it; only later ones are worth a log line.
    this.#server.on("error", (error) => {
      if (this.#server.listening) this.logger.error({ err: error }, "server error");
    });
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  listen(options: ListenOptions): Promise<AddressInfo>;
  listen(portOrOptions: number | ListenOptions = 8000, host?: string): Promise<AddressInfo> {
    const options = typeof portOrOptions === "object" ? portOrOptions : { port: portOrOptions, host };
    if (this.#closing) return Promise.reject(new RetopyError("RETOPY_SERVER_STATE", "the server is closed"));
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#server.once("error", onError);
      this.#server.listen(options.port ?? 8000, options.host, () => {
        this.#server.off("error", onError);
        const address = this.#server.address() as AddressInfo;
        this.logger.info({ address: address.address, port: address.port }, "listening");
        resolve(address);
      });
    });
  }

  /** The bound address, or null before `listen`. */
  address(): AddressInfo | null {
    const address = this.#server.address();
    return address && typeof address === "object" ? address : null;
  }

  /** Live connections by id. */
  get connections(): ReadonlyMap<string, ConnectionInfo> {
    return this.#registry;
  }

  stats(): ServerStats {
    return this.#services.server.stats();
  }

  /**
   * Stops accepting, lets each connection finish the commands it already received and
   * receive their replies, then closes it; connections still busy after `timeout` are cut.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeout ?? 5000);
    return this.#closing;
  }

  /** Closes every connection now, as the original `close_all_connections()` did. */
  closeAllConnections(): void {
    for (const connection of this.#registry.values()) connection._destroy();
  }

  async #close(timeout: number): Promise<void> {
    const listenerClosed = new Promise<void>((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
    });
    this.supervisor.send({ type: "SHUTDOWN" });
    for (const connection of this.#registry.values()) connection._drain();
    const drained = new Promise<void>((resolve) => {
      if (this.#registry.size === 0) resolve();
      else this.#onEmpty = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeout);
    });
    if ((await Promise.race([drained, timedOut])) === "timeout") {
      this.logger.warn({ connections: this.#registry.size }, "close timed out; cutting connections");
      this.closeAllConnections();
    }
    clearTimeout(timer);
    await listenerClosed;
    this.#services.stats.flush();
    this.logger.info("server closed");
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    new Connection(socket, this.#services);
  }
}
