/**
 * The server's managed Redis connection: the `redis` option (`retopy serve --redis <url>`).
 * One RetopyClient with reconnect on, opened by `listen()` before it resolves and closed by
 * `close()` once the connections drained, so every command reaches the same state through
 * `this.server.redis` whichever process or machine serves the client.
 *
 * With the option off nothing of the client is loaded and no socket is opened: the client
 * module is imported when `listen()` opens the connection.
 */
import type { Logger } from "pino";
import type { RetopyClient } from "./client/client.js";
import type { RetopyClientOptions } from "./client/options.js";
import type { ReconnectingEvent, ReconnectOptions } from "./client/reconnect.js";
import { RetopyError } from "./errors.js";
import { WireErrors } from "./protocol/wire-errors.js";
import { parseRedisUrl, redactRedisUrl } from "./redis-url.js";
import type { ErrorReply } from "./reply.js";

/**
 * The client options of the `redis` option's object form. Reconnecting is always on (only its
 * policy can be tuned), `protocol` defaults to `"resp2"` (what Redis before 6, twemproxy and
 * most proxies speak), and `reconnect.whileDisconnected` to `"reject"`: a command fails at
 * once while Redis is away rather than wait for it.
 */
export interface RedisConnectionOptions extends Omit<RetopyClientOptions, "reconnect" | "describe"> {
  reconnect?: ReconnectOptions | undefined;
}

/** The `redis` option: a `redis://`/`rediss://` URL (`/db` selects a database), or client options. */
export type RedisOption = string | RedisConnectionOptions;

/** An error's message; Redis's own refusal keeps its code (`WRONGPASS invalid ...`). */
function message(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as Error & { code?: unknown }).code;
  return error.name === "ReplyError" && typeof code === "string" ? `${code} ${error.message}` : error.message;
}

export class RedisConnection {
  /** Where it connects, password masked: for logs and errors. */
  readonly label: string;
  readonly #options: RetopyClientOptions;
  readonly #logger: Logger;
  #client: RetopyClient | null = null;
  #opening: Promise<void> | null = null;
  /** Set by close(): an open() still connecting drops what it gets. */
  #closed = false;
  /** Set while this side closes the client, so its `close` event is not reported as a failure. */
  #closing = false;

  /** The connection the option asks for, or null when it is off; a bad URL or value throws RETOPY_INVALID_OPTION. */
  static fromOption(option: RedisOption | undefined, logger: Logger): RedisConnection | null {
    if (option === undefined) return null;
    if (typeof option === "string") {
      const { host, port, db, tls, user, password } = parseRedisUrl(option);
      return new RedisConnection({ host, port, db, tls, user, password }, redactRedisUrl(option), logger);
    }
    if (typeof option !== "object" || option === null || !Number.isInteger(option.port)) {
      throw new RetopyError("RETOPY_INVALID_OPTION", "redis must be a redis:// or rediss:// URL, or client options with a port");
    }
    const db = option.db ?? 0;
    if (!Number.isInteger(db) || db < 0) throw new RetopyError("RETOPY_INVALID_OPTION", `redis.db must be a database number, not ${String(db)}`);
    const label = `${option.tls ? "rediss" : "redis"}://${option.host ?? "127.0.0.1"}:${option.port}/${db}`;
    return new RedisConnection(option, label, logger);
  }

  private constructor(options: RedisConnectionOptions, label: string, logger: Logger) {
    this.label = label;
    this.#logger = logger;
    this.#options = {
      protocol: "resp2",
      ...options,
      reconnect: { whileDisconnected: "reject", maxDelay: 2000, ...options.reconnect, maxAttempts: Infinity },
    };
  }

  /** True once open() connected, until release(). */
  get isOpen(): boolean {
    return this.#client !== null;
  }

  /** The client, once open() connected; after close() it stays, closed, so late calls fail as calls. */
  get client(): RetopyClient {
    if (this.#client === null) {
      throw new RetopyError("RETOPY_SERVER_STATE", `this.server.redis is connected by listen() (to ${this.label}); it is not there before the server listens`);
    }
    return this.#client;
  }

  /** Connects within `connectTimeout`; rejects with RETOPY_REDIS_UNAVAILABLE naming where and why. */
  open(): Promise<void> {
    if (this.#client !== null) return Promise.resolve();
    this.#opening ??= this.#connect().finally(() => {
      this.#opening = null;
    });
    return this.#opening;
  }

  async #connect(): Promise<void> {
    const { RetopyClient } = await import("./client/client.js");
    const started = Date.now();
    const timeout = this.#options.connectTimeout ?? 10_000;
    let client: RetopyClient | undefined;
    try {
      client = await RetopyClient.connect(this.#options);
      // A RESP2 handshake without a login sends nothing: PING proves something answers, and speaks Redis.
      await client.callWith({ timeout: Math.max(1, timeout - (Date.now() - started)) }, "PING");
    } catch (error) {
      client?.destroy();
      throw new RetopyError("RETOPY_REDIS_UNAVAILABLE", `cannot connect to Redis at ${this.label}: ${message(error)}`);
    }
    if (this.#closed) {
      client.destroy();
      throw new RetopyError("RETOPY_SERVER_STATE", "the server was closed while it connected to Redis");
    }
    this.#watch(client);
    this.#client = client;
    this.#logger.info({ redis: this.label }, "redis connected");
  }

  /** Logs an outage once, not once per attempt, and the recovery. */
  #watch(client: RetopyClient): void {
    const logger = this.#logger;
    client.on("reconnecting", (event: ReconnectingEvent) => {
      const fields = { redis: this.label, attempt: event.attempt, reason: event.error.message };
      if (event.attempt === 1) logger.warn(fields, "redis connection lost; reconnecting (commands that use it fail meanwhile)");
      else logger.debug(fields, "redis reconnect attempt");
    });
    client.on("reconnected", (event: { attempt: number }) => logger.info({ redis: this.label, attempts: event.attempt }, "redis reconnected"));
    client.on("close", (error: Error) => {
      // Reconnecting never gives up, so this is a handshake refused after a reconnect (a changed password).
      if (!this.#closing) logger.error({ redis: this.label, reason: error.message }, "redis connection closed for good; commands that use it fail until a restart");
    });
  }

  /** Closes the client after a failed listen(), so a retry connects again. */
  async release(): Promise<void> {
    await this.#opening?.catch(() => undefined);
    const client = this.#client;
    this.#client = null;
    if (client) await this.#closeClient(client);
  }

  /** For good: QUIT (its reply within a second), then the socket goes, so no handle keeps the process. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#opening?.catch(() => undefined);
    if (this.#client) await this.#closeClient(this.#client);
  }

  async #closeClient(client: RetopyClient): Promise<void> {
    this.#closing = true;
    await client.close(1000);
    client.destroy();
    this.#closing = false;
  }
}

/**
 * The reply for a command that failed because a call to Redis got no answer (retopy's client
 * throws a ClientError, whichever copy of the package made it), or null for any other error.
 * Never throws: the runner calls it on whatever a command threw.
 */
export function redisFailureReply(error: unknown): ErrorReply | null {
  try {
    if (!(error instanceof Error) || error.name !== "ClientError") return null;
    switch ((error as Error & { code?: unknown }).code) {
      case "DISCONNECTED":
        return WireErrors.redisNotSent;
      case "CONNECTION_LOST":
      case "CLOSED":
        return WireErrors.redisMaybeRan;
      case "TIMEOUT":
        return WireErrors.redisNoAnswer;
      default:
        return null;
    }
  } catch {
    return null;
  }
}
