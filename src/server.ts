import type { AddressInfo, Socket } from "node:net";
import type { TlsOptions } from "node:tls";
import type { Logger } from "pino";
import { type Actor, createActor } from "xstate";
import { connectionMachine } from "../machines/connection.machine.js";
import { HANDLER_SYSTEM_ID } from "../machines/handler-event.js";
import { type HandshakeMode } from "./protocol/wire.js";
import { supervisorMachine } from "../machines/supervisor.machine.js";
import { Connection, type ConnectionLimits, type ConnectionServices } from "./connection.js";
import { LiveInspector } from "./inspect/live-inspector.js";
import type { InspectOptions } from "./inspect/options.js";
import { createHandlerActor } from "./handler-actor.js";
import { connectionsTheFdLimitAllows, openFileLimit } from "./fd-limit.js";
import { Listener } from "./listener.js";
import { RetopyError } from "./errors.js";
import { type CommandTable, hasApplicationBrand, type ServerInfo } from "./handler.js";
import type { ConnectionInfo } from "./connection-info.js";
import { createLogger, type LoggerOption } from "./logger.js";
import { PubSub } from "./pubsub/registry.js";
import { pubsubTransport, type PubSubOption } from "./pubsub/option.js";
import { type ServerStats, StatsBuffer } from "./stats.js";
import { MAX_CLIENTS_LINE } from "./protocol/wire-errors.js";
import { RequestDecoder } from "./protocol/request-decoder.js";
import { checkLimits, type LimitOptions } from "./limits.js";
import { ConnectionsView } from "./connection-view.js";
import type { Server as HttpServer } from "node:http";
import { createMetricsRegistry, type MetricsSource, serveMetrics } from "./metrics.js";
import { checkMetricsOptions, type MetricsOptions, type MetricsRegistry } from "./metrics-options.js";
import type { CloseReason } from "./protocol/wire.js";
import { type RedisOption, RedisConnection } from "./redis-connection.js";
import type { RetopyClient } from "./client/client.js";
import { type ProxyPeer, type ProxyProtocolOptions, ProxyProtocolGate } from "./proxy-protocol.js";
import type { ClusterView } from "./cluster/stats-rows.js";

/** The server's options: every limit of src/limits.ts (see `LIMITS` for each), and these. */
export interface RetopyServerOptions extends LimitOptions {
  /** pino instance (used as is), pino options with an optional `destination`, `true` (info, the default) or `false` (silent). */
  logger?: LoggerOption | undefined;
  /**
   * How the first line is treated. `auto` (default): a registered command runs at once,
   * anything else is the header; `line`: always the header (the original retopy); `none`: no header.
   */
  handshake?: HandshakeMode | undefined;
  /**
   * Live inspection in the Stately inspector (default off, and then nothing of it is loaded):
   * `true` or `{ port, host, filter, commands, maxDeferredEvents }`. `listen()` starts its
   * page and relay first (127.0.0.1, any free port by default); `inspectorUrl` is the page.
   */
  inspect?: boolean | InspectOptions | undefined;
  /**
   * Prometheus metrics through the optional peer dependency `prom-client` (default off, and
   * then it is never loaded): `true` for `server.metrics()` only, or `{ port, host }` to
   * serve `GET /metrics` too when the server listens (host 127.0.0.1 by default).
   */
  metrics?: boolean | MetricsOptions | undefined;
  /**
   * A Redis connection the server manages for its commands (`this.server.redis`): a
   * `redis://[user:password@]host[:port][/db]` (or `rediss://`) URL, or client options. `listen()`
   * connects before it resolves (and fails if Redis cannot be reached); `close()` closes it
   * after the connections drained; it reconnects by itself. Default off: nothing is loaded.
   */
  redis?: RedisOption | undefined;
  /**
   * Behind a proxy that sends the PROXY protocol (v1 or v2; HAProxy's `send-proxy`,
   * `send-proxy-v2`): every socket must start with a PROXY header, read before anything
   * else (before the TLS handshake too), and the connection's `remoteAddress`/`remotePort`
   * are the client's it names. A socket without a valid header within `proxyHeaderTimeout`
   * is closed and logged. `{ allowFrom: ["10.0.0.0/8"] }` accepts sockets only from those
   * addresses or ranges. Default off.
   */
  proxyProtocol?: boolean | ProxyProtocolOptions | undefined;
  /**
   * How pub/sub reaches other processes (docs/pubsub.md): absent for in-process (the
   * default), a transport object (`new ClusterRelayTransport()` in a node:cluster worker),
   * or a Redis URL / client options for the Redis transport. `listen()` starts it.
   */
  pubsub?: PubSubOption | undefined;
}

/** The address every `listen()` binds unless told otherwise: loopback only, as the CLI and Fastify do. */
export const DEFAULT_HOST = "127.0.0.1";

export interface ListenOptions {
  /** TCP port (default 8000); 0 picks a free one, which `listen()` resolves with. */
  port?: number | undefined;
  /**
   * Address to bind (default `127.0.0.1`: only this machine can connect). Every interface
   * is an explicit choice: `"0.0.0.0"` (IPv4) or `"::"` (IPv6, and IPv4 where the OS maps it).
   */
  host?: string | undefined;
  /**
   * Speak TLS on this port: `node:tls` server options (`key` and `cert`, `ca`, `requestCert`,
   * `handshakeTimeout`, ...). Without it, plain TCP. A client becomes a connection once its
   * handshake is done; a failed handshake is logged at debug and costs nobody else anything.
   */
  tls?: TlsOptions | undefined;
}

export interface CloseOptions {
  /** Milliseconds to let running commands finish before connections are cut (default 5000). */
  timeout?: number | undefined;
}

/** What `close()` had to give up when its timeout ran out; zeros after a clean drain. */
export interface CloseResult {
  /** Commands received and never replied to: running or queued on the connections that were cut. */
  readonly droppedCommands: number;
  /** Connections cut because they were still busy at the timeout. */
  readonly connectionsCut: number;
}

/** Resolves once the supervisor has stopped: the last connection is gone (or it failed, which ends the wait too). */
function supervisorStopped(supervisor: Actor<typeof supervisorMachine>): Promise<void> {
  return new Promise((resolve) => {
    const subscription = supervisor.subscribe({
      next: (snapshot) => {
        if (snapshot.status === "active") return;
        subscription.unsubscribe();
        resolve();
      },
      error: () => resolve(),
    });
  });
}

/** How often idle connections are looked for: often enough for short timeouts, at most once a second. */
const IDLE_SWEEP_MAX_MS = 1000;

function connectionLimits(options: RetopyServerOptions): ConnectionLimits {
  const handshake = options.handshake ?? "auto";
  if (!["auto", "line", "none"].includes(handshake)) {
    throw new RetopyError("RETOPY_INVALID_OPTION", `handshake must be "auto", "line" or "none", not '${String(handshake)}'`);
  }
  return { ...checkLimits(options), handshake };
}

/**
 * Serves an Application over TCP. Owns the listening socket, the supervisor actor and one
 * Connection (socket + statechart + handler actor) per client.
 */
export class RetopyServer {
  readonly application: CommandTable;
  readonly logger: Logger;
  /** The supervisor actor: global counters and the server's running/draining/stopped state. */
  readonly supervisor: Actor<typeof supervisorMachine>;
  /** The server's pub/sub channels, shared by its connections (`this.server.pubsub` in commands). */
  readonly pubsub: PubSub;
  /** Set once the pub/sub transport has started (a Redis one connects). */
  #pubsubStarted = false;
  /** The listening socket, made by `listen()` (plain TCP or TLS); null before it and after a failed one. */
  #listener: Listener | null = null;
  readonly #registry = new Map<string, Connection>();
  #connectionsView: ConnectionsView | null = null;
  readonly #services: ConnectionServices;
  #closing: Promise<CloseResult> | null = null;
  /** The `maxConnections` option, lowered at `listen()` if the open-file limit allows fewer. */
  #maxConnections: number;
  /** Set while at `maxConnections`, so a flood of refusals logs one warning, not one each. */
  #atCapacity = false;
  /** Looks for idle connections; one timer for the server rather than one per connection. */
  #idleSweep: NodeJS.Timeout | null = null;
  /** The `inspect` option's inspector; null when it is off. */
  readonly #inspection: LiveInspector | null;
  /** The `metrics` option, checked; null when off. */
  readonly #metricsOptions: MetricsOptions | null;
  #metricsRegistry: Promise<MetricsRegistry> | null = null;
  #metricsHttp: HttpServer | null = null;
  /** Clients turned away before becoming connections, by reason. */
  readonly #rejections = new Map<string, number>();
  /** The `redis` option's connection; null when it is off. */
  readonly #redis: RedisConnection | null;
  /** The `proxyProtocol` option's gate; null when it is off. */
  readonly #proxy: ProxyProtocolGate | null;

  constructor(application: CommandTable, options: RetopyServerOptions = {}) {
    if (!hasApplicationBrand(application)) {
      throw new RetopyError("RETOPY_INVALID_OPTION", "RetopyServer needs an Application");
    }
    this.application = application;
    this.logger = createLogger(options.logger);
    this.pubsub = new PubSub(pubsubTransport(options.pubsub), this.logger);
    const limits = connectionLimits(options);
    this.#maxConnections = limits.maxConnections;
    this.#proxy = ProxyProtocolGate.fromOption(options.proxyProtocol, limits.proxyHeaderTimeout, this.logger, (reason) => this.#countRefusal(reason));
    const supervisor = supervisorMachine.provide({ actors: { handler: createHandlerActor(this.logger) } });
    this.#inspection = LiveInspector.fromOption(options.inspect, this.logger);
    this.#metricsOptions = checkMetricsOptions(options.metrics);
    const redis = (this.#redis = RedisConnection.fromOption(options.redis, this.logger));
    this.supervisor = createActor(supervisor, {
      id: "supervisor",
      input: { startedAt: Date.now() },
      // On the root actor, it sees every actor of the system: connections and the handler too.
      ...(this.#inspection && { inspect: this.#inspection.observe }),
    });
    this.supervisor.subscribe({ error: (error) => this.logger.error({ err: error }, "supervisor failed") });
    this.supervisor.start();
    const handler = this.supervisor.system.get(HANDLER_SYSTEM_ID) as ConnectionServices["handler"] | undefined;
    if (!handler) throw new RetopyError("RETOPY_SERVER_STATE", "the supervisor did not start its handler actor");
    const stats = new StatsBuffer(this.supervisor);
    const server: { -readonly [K in keyof ServerInfo]: ServerInfo[K] } = {
      stats: () => stats.read(),
      commandStats: () => stats.commands.read(true),
      resetStats: () => stats.commands.reset(),
      pubsub: this.pubsub,
      get redis(): RetopyClient {
        if (redis === null) {
          throw new RetopyError("RETOPY_INVALID_OPTION", "this.server.redis needs the server's `redis` option (a redis:// URL), or `retopy serve --redis <url>`");
        }
        return redis.client;
      },
    };
    this.#services = {
      application,
      server,
      stats,
      logger: this.logger,
      limits,
      machine: connectionMachine,
      supervisor: this.supervisor,
      handler,
      registry: this.#registry,
      counters: { clientIds: 0, bytesIn: 0, bytesOut: 0, closed: new Map<CloseReason, number>() },
      decoder: new RequestDecoder("text", limits),
      released: (connection) => {
        // Subscriptions already went when the connection closed; this is the backstop.
        const view = connection.existingView;
        if (view) this.pubsub.unsubscribeAll(view);
        if (this.#openConnections() < this.#maxConnections) this.#atCapacity = false;
      },
    };
    if (limits.idleTimeout > 0) {
      const every = Math.max(10, Math.min(IDLE_SWEEP_MAX_MS, Math.floor(limits.idleTimeout / 4)));
      this.#idleSweep = setInterval(() => this.#closeIdleConnections(limits.idleTimeout), every);
      this.#idleSweep.unref(); // never keeps the process alive on its own
    }
  }

  /** Starts listening on 127.0.0.1 unless `host` says otherwise; resolves with the bound address (port 0 picks a free port). */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  listen(options: ListenOptions): Promise<AddressInfo>;
  listen(portOrOptions: number | ListenOptions = 8000, host?: string): Promise<AddressInfo> {
    const options = typeof portOrOptions === "object" ? portOrOptions : { port: portOrOptions, host };
    if (this.#closing) return Promise.reject(new RetopyError("RETOPY_SERVER_STATE", "the server is closed"));
    if (this.#listener) return Promise.reject(new RetopyError("RETOPY_SERVER_STATE", "the server is already listening"));
    // The inspector's page and relay first: its address is known when listen() resolves.
    if (this.#inspection && !this.#inspection.started) return this.#inspection.start().then(() => this.listen(options));
    // The pub/sub transport too: an unreachable Redis fails listen() rather than every PUBLISH.
    if (!this.#pubsubStarted) {
      const transport = this.pubsub.transport;
      return transport.start().then(() => {
        this.#pubsubStarted = true;
        return this.listen(options).catch(async (error: unknown) => {
          // Not listening after all: its links to Redis would hold the process open. A second
          // listen() refused because the first listens leaves them to the first.
          if (this.#listener === null && !this.#closing && this.#pubsubStarted) {
            this.#pubsubStarted = false;
            await transport.close();
          }
          throw error;
        });
      });
    }
    // The metrics endpoint too: a missing prom-client fails listen(), before any client comes.
    const metricsPort = this.#metricsOptions?.port;
    if (metricsPort !== undefined && this.#metricsHttp === null) {
      return this.metrics()
        .then((registry) => serveMetrics(registry, metricsPort, this.#metricsOptions?.host ?? "127.0.0.1", this.logger))
        .then((http) => {
          // close() came while the endpoint started: it found no endpoint to close.
          if (this.#closing) return closeHttp(http).then(() => this.listen(options));
          this.#metricsHttp = http;
          return this.listen(options).catch((error: unknown) => {
            // A server that never listened keeps no endpoint (it would hold the process open).
            if (this.#metricsHttp !== http) throw error;
            this.#metricsHttp = null;
            return closeHttp(http).then(() => Promise.reject(error));
          });
        });
    }
    // Redis before the port: no client is served by a server that cannot reach its state.
    const redis = this.#redis;
    if (redis !== null && !redis.isOpen) {
      return redis.open().then(() =>
        this.listen(options).catch(async (error: unknown) => {
          // Not listening after all (and not closing, which closes it): a retried listen() connects again.
          // A second listen() refused because the first listens must leave the first its connection.
          if (this.#listener === null && !this.#closing) await redis.release();
          throw error;
        }),
      );
    }
    let listener: Listener;
    try {
      const refuse = (waiting: number) => {
        if (!this.#full(waiting)) return false;
        this.#countRefusal("max_connections");
        return true;
      };
      listener = new Listener(options.tls, (socket, peer) => this.#accept(socket, peer), this.logger, refuse, this.#proxy);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#listener = listener;
    const server = listener.server;
    // Errors of a pending listen() reject it; only later ones are worth a log line.
    server.on("error", (error) => {
      if (server.listening) this.logger.error({ err: error }, "server error");
    });
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => {
        this.#listener = null; // a failed listen() may be retried
        reject(error);
      };
      server.once("error", onError);
      try {
        server.listen(options.port ?? 8000, options.host ?? DEFAULT_HOST, () => {
          server.off("error", onError);
          if (this.#closing) {
            // close() was called while this listen() was pending: it found nothing listening.
            server.close();
            reject(new RetopyError("RETOPY_SERVER_STATE", "the server was closed before it started listening"));
            return;
          }
          this.#fitConnectionsToFdLimit();
          const address = server.address() as AddressInfo;
          this.logger.info(
            { address: address.address, port: address.port, ...(listener.tls && { tls: true }), ...(this.#proxy && { proxyProtocol: true }) },
            "listening",
          );
          resolve(address);
        });
      } catch (error) {
        onError(error as Error); // a bad port throws at once
      }
    });
  }

  /** The bound address, or null before `listen`. */
  address(): AddressInfo | null {
    const address = this.#listener?.server.address();
    return address && typeof address === "object" ? address : null;
  }

  /** The page of the live inspector (`inspect` option) once `listen()` has resolved; null when off or closed. */
  get inspectorUrl(): string | null {
    return this.#inspection?.url ?? null;
  }

  /** Live connections by id, each as the `ConnectionInfo` its commands see. */
  get connections(): ReadonlyMap<string, ConnectionInfo> {
    return (this.#connectionsView ??= new ConnectionsView(this.#registry));
  }

  stats(): ServerStats {
    return this.#services.server.stats();
  }

  /** The `redis` option's client, as commands see it (`this.server.redis`); throws without that option or before `listen()`. */
  get redis(): RetopyClient {
    return this.#services.server.redis;
  }

  /**
   * The prom-client `Registry` of this server's metrics (the `metrics` option must be on), to
   * mount in an HTTP server of your own: `res.end(await registry.metrics())`. Loads prom-client
   * on first call; rejects with RETOPY_MISSING_PEER when it is not installed.
   */
  metrics(): Promise<MetricsRegistry> {
    if (this.#metricsOptions === null) {
      return Promise.reject(new RetopyError("RETOPY_INVALID_OPTION", "metrics are off: create the server with the `metrics` option"));
    }
    if (this.#metricsRegistry === null) {
      this.#metricsRegistry = createMetricsRegistry(this.#metricsSource(), this.#metricsOptions);
      this.#metricsRegistry.catch(() => {
        this.#metricsRegistry = null; // installed later, a retry may work
      });
    }
    return this.#metricsRegistry;
  }

  /** The address of the metrics endpoint (`metrics.port`) once `listen()` resolved; else null. */
  metricsAddress(): AddressInfo | null {
    const address = this.#metricsHttp?.address();
    return address && typeof address === "object" ? address : null;
  }

  #metricsSource(): MetricsSource {
    const registry = this.#registry;
    const { stats, counters } = this.#services;
    return {
      commandStats: () => stats.commands.read(false),
      connectionStates: () => {
        const states = new Map<string, number>();
        for (const connection of registry.values()) {
          const phase = connection._phase();
          states.set(phase, (states.get(phase) ?? 0) + 1);
        }
        return states;
      },
      bytes: () => {
        let received = counters.bytesIn;
        let sent = counters.bytesOut;
        for (const connection of registry.values()) {
          const bytes = connection._bytes();
          received += bytes.read;
          sent += bytes.written;
        }
        return { received, sent };
      },
      rejections: () => this.#rejections,
      closes: () => counters.closed,
    };
  }

  /**
   * Stops accepting, lets each connection finish the commands it already received and
   * receive their replies, then closes it; connections still busy after `timeout` are cut.
   * Resolves with what the cut dropped (`droppedCommands`), so a caller can exit non-zero.
   */
  close(options: CloseOptions = {}): Promise<CloseResult> {
    this.#closing ??= this.#close(options.timeout ?? 5000);
    return this.#closing;
  }

  /** Closes every connection now, as the original `close_all_connections()` did, and every TLS handshake in progress. */
  closeAllConnections(): void {
    for (const connection of this.#registry.values()) connection._destroy();
    this.#listener?.cutHandshakes();
  }

  async #close(timeout: number): Promise<CloseResult> {
    let result: CloseResult = { droppedCommands: 0, connectionsCut: 0 };
    const listener = this.#listener;
    const listenerClosed = new Promise<void>((resolve) => {
      if (!listener?.server.listening) return resolve();
      listener.server.close(() => resolve());
    });
    listener?.cutHandshakes(); // no commands to finish; they would hold the close for their handshake timeout
    if (this.#idleSweep) clearInterval(this.#idleSweep);
    // The supervisor stops when the last connection reports its close; counts made on the way
    // must reach it before that, not on the next interval.
    this.#services.stats.flushEachCount();
    const drained = supervisorStopped(this.supervisor);
    this.supervisor.send({ type: "SHUTDOWN" });
    for (const connection of this.#registry.values()) connection._drain();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeout);
    });
    if ((await Promise.race([drained, timedOut])) === "timeout") {
      let droppedCommands = 0;
      for (const connection of this.#registry.values()) droppedCommands += connection._pendingCommands;
      result = { droppedCommands, connectionsCut: this.#registry.size };
      this.logger.warn(result, "close timed out; cutting connections");
      this.closeAllConnections();
      // Destroyed sockets report their close a turn later: resolve once they are released.
      await drained;
    }
    clearTimeout(timer);
    // After the drain: the commands that finished were still using it.
    await this.#redis?.close();
    await listenerClosed;
    const metricsHttp = this.#metricsHttp;
    this.#metricsHttp = null;
    if (metricsHttp) await closeHttp(metricsHttp);
    await this.#inspection?.close();
    // After the drain: commands still running may have published through it.
    await this.pubsub.transport.close();
    this.logger.info("server closed");
    return result;
  }

  #accept(socket: Socket, peer?: ProxyPeer): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (this.#full(0)) {
      this.#reject(socket);
      return;
    }
    new Connection(socket, this.#services, peer);
  }

  /**
   * @internal Serves one already-connected stream, as `#accept` does for a TCP client (no
   * capacity check): `app.inject()` hands it an in-memory socket (`src/inject.ts`).
   */
  _connect(socket: Socket): Connection {
    if (this.#closing) throw new RetopyError("RETOPY_SERVER_STATE", "the server is closed");
    return new Connection(socket, this.#services);
  }

  /**
   * @internal Closes the listening socket only: connections stay as they are. A cluster
   * worker being replaced stops taking clients a moment before its drain.
   */
  _stopAccepting(): void {
    // No callback: close()'s waits for every connection to end.
    if (this.#listener?.server.listening) this.#listener.server.close();
  }

  /**
   * @internal Makes this server a worker of `retopy serve --workers` (src/cluster/worker.ts):
   * CLIENT IDs come from `nextClientId`, and `stats`/INFO ask `view` for the whole server.
   */
  _joinCluster(view: ClusterView, nextClientId: () => number): ServerInfo {
    const server = this.#services.server as { cluster?: ClusterView | undefined };
    server.cluster = view;
    this.#services.nextClientId = nextClientId;
    return this.#services.server;
  }

  /**
   * Turns a client away without building a connection for it (no actor, no parser), as
   * Redis does at maxclients. The line reads the same in the text protocol and in RESP.
   */
  #reject(socket: Socket): void {
    socket.on("error", () => undefined); // the client may already be gone
    socket.end(MAX_CLIENTS_LINE, () => socket.destroy());
    // Never wait on a peer that does not read: the socket goes within a second either way.
    setTimeout(() => socket.destroy(), 1000).unref();
    this.#countRefusal("max_connections");
  }

  /**
   * Lowers the connection cap to what the open-file limit allows, with a warning, as Redis
   * does: past the limit the kernel refuses clients silently (see src/fd-limit.ts).
   */
  #fitConnectionsToFdLimit(): void {
    const allowed = connectionsTheFdLimitAllows();
    if (allowed === null) return;
    const configured = this.#maxConnections;
    if (configured !== 0 && configured <= allowed) return;
    this.#maxConnections = allowed;
    this.logger.warn(
      { maxConnections: configured === 0 ? "unlimited" : configured, openFileLimit: openFileLimit(), lowered: allowed },
      "maxConnections exceeds what the open-file limit allows; lowering it (raise the limit with ulimit -n or LimitNOFILE=)",
    );
  }

  /** True when `maxConnections` are open (TLS clients still in their handshake included). */
  #full(handshaking: number): boolean {
    return this.#maxConnections > 0 && this.#openConnections() + handshaking >= this.#maxConnections;
  }

  /** Open connections, lingering ones included, as the supervisor counts them (the same count `stats` reports). */
  #openConnections(): number {
    return this.supervisor.getSnapshot().context.connectionsCurrent;
  }

  #countRefusal(reason: string): void {
    this.#rejections.set(reason, (this.#rejections.get(reason) ?? 0) + 1);
    this.supervisor.send({ type: "CONNECTION_REJECTED" });
    if (reason === "max_connections" && !this.#atCapacity) {
      this.#atCapacity = true;
      this.logger.warn({ maxConnections: this.#maxConnections }, "max number of clients reached; refusing new connections");
    }
  }

  #closeIdleConnections(idleTimeout: number): void {
    const now = Date.now();
    for (const connection of this.#registry.values()) connection._closeIfIdle(now, idleTimeout);
  }
}

/** Closes an HTTP server and every connection it holds (keep-alive ones too). */
function closeHttp(http: HttpServer): Promise<void> {
  http.closeAllConnections();
  return new Promise<void>((resolve) => http.close(() => resolve()));
}
