import type { HookSet } from "./hooks.js";
import type { CommandStatsEntry } from "./command-stats.js";
import type { Logger } from "pino";
import type { ConnectionInfo } from "./connection-info.js";
import type { CheckedSettings } from "./settings.js";
import { performLogin } from "./auth.js";
import type { BoundArguments, ParameterSpec, RawArgument } from "./command-spec.js";
import { MissingArgumentError, RetopyError } from "./errors.js";
import type { ClusterView } from "./cluster/stats-rows.js";
import type { PubSub } from "./pubsub/registry.js";
import type { RetopyClient } from "./client/client.js";
import type { ReplyValue } from "./reply.js";
import type { ServerStats } from "./stats.js";
import { WireErrors } from "./protocol/wire-errors.js";

/** A mounted command: what dispatch, `commands` and `help` need to know. */
export interface CommandDefinition {
  /** Lower-case wire name. */
  readonly name: string;
  readonly params: readonly ParameterSpec[];
  readonly help: string;
  readonly authenticated: boolean;
  /** Part of the login path (`@command({ login: true })`): runs before a login under `requireLogin`. */
  readonly login: boolean;
  /** `@command({ timeout })`: milliseconds, 0 for none; undefined leaves it to the server's `commandTimeout`. */
  readonly timeout: number | undefined;
  /** Whether a first line starting with this command skips the header (handshake `auto`). */
  readonly autoHandshake: boolean;
  /** `set key value`, `rem key [key ...]`. */
  readonly usage: string;
  readonly handlerClass: HandlerClass;
  readonly initializeOptions: Readonly<Record<string, unknown>>;
  /** Calls the command on a fresh handler instance. */
  readonly invoke: (handler: CommandHandler) => unknown;
  /** Which lifecycle hooks the handler class overrides; the others are not called at all. */
  readonly hooks: { readonly initialize: boolean; readonly prepare: boolean; readonly onFinish: boolean };
  /** Built-ins give way to a user command of the same name. */
  readonly builtin: boolean;
  /** Small integer unique in its application: per-command counters are arrays indexed by it. */
  readonly slot: number;
}

/**
 * What the server and a command see of an application: its checked settings and its
 * commands. `Application` is the one implementation; the runtime depends on this view only,
 * so the server never imports the class that imports everything.
 */
export interface CommandTable {
  readonly settings: CheckedSettings;
  /** The command a wire name (any case) runs, or undefined. */
  lookup(name: string): CommandDefinition | undefined;
  /** Every mounted command, in mount order. */
  readonly commands: readonly CommandDefinition[];
  /** The lifecycle hooks added with `addHook` (src/hooks.ts). */
  readonly hooks: HookSet;
}

/** @internal Marks an Application, even one from another copy of the package (the CLI relies on it). */
export const APPLICATION_BRAND = Symbol.for("retopy.application");

/** @internal True for an Application: what the server checks it was given. */
export function hasApplicationBrand(value: unknown): value is CommandTable {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[APPLICATION_BRAND] === true;
}

/** Server-wide facts and services a command may use. */
export interface ServerInfo {
  stats(): ServerStats;
  /** Per-command calls, time and latency since the start or the last `resetStats()` (INFO commandstats, latencystats). */
  commandStats(): readonly CommandStatsEntry[];
  /** What `CONFIG RESETSTAT` does: `commandStats()` starts again from zero (the Prometheus counters do not). */
  resetStats(): void;
  /** The server's channels: `this.server.pubsub.publish("news", "hello")`. */
  readonly pubsub: PubSub;
  /**
   * The server's Redis connection (the `redis` option, `retopy serve --redis <url>`), shared
   * by every command: `await this.server.redis.call("INCR", key)`. Throws a RetopyError when
   * the server has no `redis` option, or before it listens.
   */
  readonly redis: RetopyClient;
  /** Under `retopy serve --workers`, the whole server's figures (docs/workers.md); absent in a single process. */
  readonly cluster?: ClusterView | undefined;
}

/** The command being run: its wire name and the raw arguments the client sent after it. */
export interface CommandInvocation {
  readonly name: string;
  /** Strings, or Buffers for binary RESP arguments; prefer `getArgument`/`getBuffer`. */
  readonly args: readonly RawArgument[];
}

/**
 * Everything a handler is constructed with; built by retopy for each command. Kept flat
 * (one object per command) because it is made on the hot path of every command.
 */
export interface HandlerContext {
  readonly application: CommandTable;
  readonly connection: ConnectionInfo;
  readonly server: ServerInfo;
  /** The mounted command being run. */
  readonly definition: CommandDefinition;
  /** The request as received: the command word, then its raw arguments. */
  readonly argv: readonly RawArgument[];
  /** The converted arguments, one per parameter of `definition` (an array for a variadic one). */
  readonly values: BoundArguments;
  /** The command's own signal when it has a timeout; else the connection's is used. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Base class of command handlers. Every method marked with `@parameter(...)` is a command,
 * and every command gets a fresh instance, so instance fields never leak between commands.
 *
 * Lifecycle (as in Tornado): `initialize(options)`, `prepare()`, the command method,
 * automatic finish, `onFinish()`. `prepare`, the method and `onFinish` may be async.
 */
/** @internal The runner's view of a handler's reply state (src/command-runner.ts). */
export const REPLIES: unique symbol = Symbol("retopy.replies");
/** @internal */
export const FINISHED: unique symbol = Symbol("retopy.finished");
/** @internal */
export const SKIP_REPLY: unique symbol = Symbol("retopy.skipReply");

/** @internal The context a handler was built with, for src/typed-handler.ts. */
export let contextOf: (handler: CommandHandler) => HandlerContext;

export class CommandHandler {
  // Symbol keys: a subclass's own `_replies` or `finished_` field can never clobber them.
  /** @internal Everything written with `write()`, or null until the first write. */
  [REPLIES]: ReplyValue[] | null = null;
  /** @internal */
  [FINISHED] = false;
  /** @internal Set by `skipReply()`; read by the command runner. */
  [SKIP_REPLY] = false;
  // One field instead of one per service: a handler is built for every command.
  readonly #context: HandlerContext;
  #command: CommandInvocation | null = null;

  static {
    // Lets the typed handler (src/typed-handler.ts) read the bound values without a public member.
    contextOf = (handler) => handler.#context;
  }

  constructor(context: HandlerContext) {
    this.#context = context;
  }

  get application(): CommandTable {
    return this.#context.application;
  }

  get connection(): ConnectionInfo {
    return this.#context.connection;
  }

  get server(): ServerInfo {
    return this.#context.server;
  }

  /** The command's wire name and raw arguments. */
  get command(): CommandInvocation {
    this.#command ??= { name: this.#context.definition.name, args: this.#context.argv.slice(1) };
    return this.#command;
  }

  /** Receives the options given with the handler class in `new Application([[Cls, options]])`. */
  initialize(_options: Readonly<Record<string, unknown>>): void | Promise<void> {}

  /** Runs before the command method; throw a CommandError here to refuse the command. */
  prepare(): void | Promise<void> {}

  /** Runs after the reply is complete; for cleanup and metrics. */
  onFinish(): void | Promise<void> {}

  /** The converted value of a declared argument, or `defaultValue`, or a `-ERR missing argument`. */
  getArgument<T = string>(name: string, defaultValue?: T): T {
    const index = this.#parameterIndex(name);
    if (index !== -1) {
      const value = this.#context.values[index];
      // A variadic parameter holds an array (empty when optional and not given), or its default.
      const first: unknown = Array.isArray(value) && this.#isVariadic(index) ? value[0] : value;
      if (first !== undefined) return first as T;
    }
    if (defaultValue !== undefined) return defaultValue;
    throw new MissingArgumentError(name, WireErrors.undeclaredArgument(name).message);
  }

  /** Every value of an argument: the rest of the line for a variadic parameter. */
  getArguments<T = string>(name: string): T[] {
    const index = this.#parameterIndex(name);
    const value = index === -1 ? undefined : this.#context.values[index];
    if (value === undefined) return [];
    return (Array.isArray(value) && this.#isVariadic(index) ? value : [value]) as T[];
  }

  /** The raw bytes of a declared argument (binary-safe over RESP), or undefined. */
  getBuffer(name: string): Buffer | undefined {
    return this.getBuffers(name)[0];
  }

  /** The raw bytes of every value of an argument. */
  getBuffers(name: string): Buffer[] {
    const index = this.#parameterIndex(name);
    if (index === -1) return [];
    const { argv, definition } = this.#context;
    // argv[0] is the command word: parameter i is argv[i + 1].
    const raws = definition.params[index]!.variadic ? argv.slice(index + 1) : argv.slice(index + 1, index + 2);
    return raws.map((raw) => (typeof raw === "string" ? Buffer.from(raw) : raw));
  }

  #isVariadic(index: number): boolean {
    return this.#context.definition.params[index]!.variadic;
  }

  /** Position of a declared parameter; commands have few, so a scan beats a Map. */
  #parameterIndex(name: string): number {
    const params = this.#context.definition.params;
    for (let i = 0; i < params.length; i++) if (params[i]!.name === name) return i;
    return -1;
  }

  /** Adds a reply; the connection's protocol frames it. Call once per line in text mode. */
  write(value: ReplyValue): void {
    if (this[FINISHED]) {
      throw new RetopyError("RETOPY_WRITE_AFTER_FINISH", `'${this.#context.definition.name}' wrote after its reply was finished`);
    }
    (this[REPLIES] ??= []).push(value);
  }

  /**
   * Declares that the command's answer is whatever it pushed with `this.connection.push`:
   * no normal reply is encoded, so neither values written nor the returned value nor the
   * implicit `+OK` reach the client. Redis's SUBSCRIBE works so, answering with one
   * push-shaped message per channel. A command that fails still gets its error reply,
   * after whatever it had already pushed. Call it from `prepare()` or the command itself.
   */
  skipReply(): void {
    if (this[FINISHED]) {
      throw new RetopyError(
        "RETOPY_WRITE_AFTER_FINISH",
        `'${this.#context.definition.name}' called skipReply() after its reply was finished`,
      );
    }
    this[SKIP_REPLY] = true;
  }

  /**
   * Logs the connection in through retopy's guarded path, for an application's own login
   * command: the application's `authenticate` setting checks the credentials, a failure waits
   * `authFailureDelay` ms and counts toward `maxAuthFailures` (the last one closes the
   * connection after this command's reply), exactly as for AUTH. Resolves with the user now
   * logged in (`this.connection.user` is set), or null when refused. Never log the password.
   *
   * ```ts
   * if (!(await this.attemptLogin(username, password))) throw new CommandError("Wrong username or password");
   * ```
   */
  async attemptLogin(user: string, password: string): Promise<string | null> {
    const outcome = await performLogin(this.application.settings, this.connection, user, password);
    return outcome.ok ? outcome.user : null;
  }

  /** True once the reply has been completed. */
  get finished(): boolean {
    return this[FINISHED];
  }

  /**
   * Aborted when the connection closes, or when the command runs past its timeout
   * (`commandTimeout`, `@command({ timeout })`): hand it to `fetch`, timers, queries.
   */
  get signal(): AbortSignal {
    return this.#context.signal ?? this.connection.signal;
  }

  /** Shortcut for `this.connection.logger`. */
  get logger(): Logger {
    return this.connection.logger;
  }
}

/** A class that can be mounted on an Application. */
export type HandlerClass<T extends CommandHandler = CommandHandler> = new (context: HandlerContext) => T;
