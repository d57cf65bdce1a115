import { builtinHandlers, protocolHandlers, redisHandlers } from "./builtins.js";
import {
  type CommandOptions,
  formatUsage,
  type ParameterOptions,
  validateParameters,
} from "./command-spec.js";
import { commandMetadataOf } from "./decorators.js";
import { commandDeclarationOf, type DeclaredCommand } from "./command-class.js";
import type { ArgumentsOf, ParameterDeclaration, TypedCommandSpec } from "./typed-args.js";
import { TypedHandler } from "./typed-handler.js";
import { RetopyError } from "./errors.js";
import {
  APPLICATION_BRAND,
  type CommandDefinition,
  CommandHandler,
  type CommandTable,
  type HandlerClass,
  hasApplicationBrand,
} from "./handler.js";
import { inject, injectAll, type InjectCommand, InjectedConnection, type InjectOptions, type InjectResult } from "./inject.js";
import { asciiLowerCase } from "./client-text.js";
import { MAX_TIMER_MS } from "./limits.js";
import { type ApplicationSettings, type CheckedSettings, checkSettings } from "./settings.js";
import { type HookName, type Hooks, HookSet } from "./hooks.js";

/** A handler class, optionally with the options its `initialize(options)` receives. */
export type HandlerEntry =
  | HandlerClass
  | readonly [HandlerClass]
  | readonly [HandlerClass, Readonly<Record<string, unknown>>];

/** Built-ins that need a login by default once the application can log anyone in. */
const LOGIN_BY_DEFAULT: ReadonlySet<string> = new Set(["subscribe", "psubscribe", "publish", "pubsub"]);

/** The names `redisCommands` may list: every command of the Redis compatibility set. */
function redisCommandNames(): string[] {
  const names: string[] = [];
  for (const cls of redisHandlers) {
    for (const key of Object.getOwnPropertyNames(cls.prototype)) {
      const meta = commandMetadataOf(Object.getOwnPropertyDescriptor(cls.prototype, key)?.value);
      if (meta?.isCommand) names.push(String(meta.options.name ?? key).toLowerCase());
    }
  }
  return names;
}

function checkRedisCommandNames(wanted: ReadonlySet<string>): void {
  const known = redisCommandNames();
  for (const name of wanted) {
    if (!known.includes(name)) {
      throw new RetopyError("RETOPY_INVALID_OPTION", `redisCommands: '${name}' is not one of the Redis compatibility commands (${known.join(", ")})`);
    }
  }
}

/** A command's own timeout, checked when it is mounted. */
function checkTimeout(name: string, timeout: number | undefined): number | undefined {
  if (timeout === undefined) return undefined;
  if (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout < 0 || timeout > MAX_TIMER_MS) {
    throw new RetopyError("RETOPY_INVALID_COMMAND", `the timeout of '${name}' must be a number of milliseconds from 0 to ${MAX_TIMER_MS}`);
  }
  return timeout;
}

/** Options of `app.command(name, spec, fn)`, the decorator-free way to add a command. */
export interface CommandSpec extends Omit<CommandOptions, "name"> {
  params?: readonly (ParameterOptions | string)[] | undefined;
}

/** The function of an `app.command(...)`: `this` and the argument are the handler instance. */
export type CommandFunction = (this: CommandHandler, handler: CommandHandler) => unknown;

/**
 * The function of a typed `app.command(...)`: `handler.args` (and `this.args`) hold the
 * converted arguments, typed from the `params` written in the call.
 */
export type TypedCommandFunction<Args extends object> = (this: TypedHandler<Args>, handler: TypedHandler<Args>) => unknown;

const EMPTY_OPTIONS: Readonly<Record<string, unknown>> = Object.freeze({});

/** `"key"` is short for `{ name: "key" }`. */
function normalize(params: readonly ParameterDeclaration[] | undefined): ParameterOptions[] {
  return (params ?? []).map((p) => (typeof p === "string" ? { name: p } : p));
}

/** True for an Application, even one from another copy of the package (the CLI relies on it). */
export function isApplication(value: unknown): value is Application {
  return hasApplicationBrand(value);
}

/**
 * The set of commands a server speaks, kept apart from the server (as in Tornado) so one
 * application can be served on several ports or driven without sockets.
 */
export class Application implements CommandTable {
  readonly settings: CheckedSettings;
  readonly [APPLICATION_BRAND] = true;
  /** The hooks of `addHook`, by kind. */
  readonly hooks = new HookSet();
  // A Map, not an object: `constructor` or `__proto__` on the wire must never reach a member.
  readonly #commands = new Map<string, CommandDefinition>();
  /** Spellings seen on the wire (any case) → command, so lookups skip `toLowerCase`. */
  readonly #spellings = new Map<string, CommandDefinition>();
  #nextSlot = 0;
  #lastName: string | null = null;
  #lastFound: CommandDefinition | undefined = undefined;

  constructor(handlers: readonly HandlerEntry[] = [], settings: ApplicationSettings = {}) {
    this.settings = Object.freeze(checkSettings(settings));
    for (const entry of handlers) {
      if (typeof entry === "function") this.addHandler(entry);
      else this.addHandler(entry[0], entry[1]);
    }
    for (const cls of protocolHandlers) this.#mount(cls, EMPTY_OPTIONS, true);
    const redis = this.settings.redisCommands;
    if (redis !== false) {
      const wanted = redis === true ? null : new Set(redis.map(asciiLowerCase));
      if (wanted !== null) checkRedisCommandNames(wanted);
      for (const cls of redisHandlers) this.#mount(cls, EMPTY_OPTIONS, true, wanted);
    }
    if (this.settings.defaultHandlers) {
      for (const cls of builtinHandlers) this.#mount(cls, EMPTY_OPTIONS, true);
    }
    for (const name of Object.keys(this.settings.builtinLogin)) {
      if (!this.#commands.get(name)?.builtin) {
        throw new RetopyError("RETOPY_INVALID_OPTION", `builtinLogin: '${name}' is not a built-in command of this application`);
      }
    }
  }

  /** Mounts every decorated method of `handlerClass` (and of its base classes) as a command. */
  addHandler(handlerClass: HandlerClass, options: Readonly<Record<string, unknown>> = EMPTY_OPTIONS): this {
    this.#mount(handlerClass, options, false);
    return this;
  }

  /**
   * Adds a command without decorators, for plain JavaScript:
   * `app.command("ping", {}, () => status("PONG"))` or
   * `app.command("increment", { params: ["key"] }, (h) => ++counts[h.getArgument("key")])`.
   * A returned value (other than undefined) is written as the reply.
   */
  command<const Params extends readonly ParameterDeclaration[] = []>(
    name: string,
    spec: TypedCommandSpec<Params>,
    fn: TypedCommandFunction<ArgumentsOf<Params>>,
  ): this {
    if (typeof fn !== "function") {
      throw new RetopyError("RETOPY_INVALID_COMMAND", `'${name}' needs a function`);
    }
    const invoke = (h: CommandHandler) => fn.call(h as TypedHandler<ArgumentsOf<Params>>, h as TypedHandler<ArgumentsOf<Params>>);
    this.#register(this.#define(name, normalize(spec.params), spec, TypedHandler, EMPTY_OPTIONS, invoke, false));
    return this;
  }

  /**
   * Adds a lifecycle hook for every connection and command of the application, as Fastify's
   * `addHook`: `app.addHook("preCommand", ({ command, connection }) => { ... })`. Hooks of a
   * kind run in the order they were added, each awaited; see `Hooks` for when each runs.
   */
  addHook<K extends HookName>(name: K, hook: Hooks[K]): this {
    this.hooks.add(name, hook);
    return this;
  }

  /** The command for a wire name, matched case-insensitively, or undefined. */
  lookup(name: string): CommandDefinition | undefined {
    // Pipelines repeat one command: comparing with the last name found is cheaper than
    // hashing a string that was just cut from the read.
    if (name === this.#lastName) return this.#lastFound;
    const known = this.#spellings.get(name);
    if (known) {
      this.#lastName = name;
      this.#lastFound = known;
      return known;
    }
    const definition = this.#commands.get(asciiLowerCase(name));
    // Remember this spelling (redis-benchmark sends `PING`), within a bound, so the hot
    // path is one Map lookup without `toLowerCase`.
    if (definition && this.#spellings.size < 4096) this.#spellings.set(name, definition);
    return definition;
  }

  /**
   * Runs one command on a fresh in-memory connection (the real connection statechart,
   * runner and handlers; no socket) and resolves with its reply: `await app.inject("increment a")`
   * or `app.inject(["set", "k", "5"], { user: "x" })`. See `InjectResult`.
   */
  inject(command: InjectCommand, options?: InjectOptions): Promise<InjectResult> {
    return inject(this, command, options);
  }

  /** Runs several commands on one in-memory connection, in order (a login in one is seen by the next). */
  injectAll(commands: readonly InjectCommand[], options?: InjectOptions): Promise<InjectResult[]> {
    return injectAll(this, commands, options);
  }

  /** An in-memory connection to drive step by step: `conn.run(command)`, `conn.pushes`, `await conn.close()`. */
  injectConnection(options?: InjectOptions): InjectedConnection {
    return new InjectedConnection(this, options);
  }

  /** Every mounted command: the user's first, then the built-ins. */
  get commands(): readonly CommandDefinition[] {
    return [...this.#commands.values()].sort((a, b) => Number(a.builtin) - Number(b.builtin));
  }

  /** `only`: the lower-case names to mount (a subset of a built-in set); null mounts them all. */
  #mount(handlerClass: HandlerClass, options: Readonly<Record<string, unknown>>, builtin: boolean, only: ReadonlySet<string> | null = null): void {
    if (typeof handlerClass !== "function" || !(handlerClass.prototype instanceof CommandHandler)) {
      throw new RetopyError("RETOPY_INVALID_HANDLER", `${String(handlerClass?.name ?? handlerClass)} does not extend CommandHandler`);
    }
    const seen = new Set<string>();
    // Walk up to CommandHandler so inherited commands are mounted; subclasses override.
    for (let proto = handlerClass.prototype; proto && proto !== CommandHandler.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const key of Object.getOwnPropertyNames(proto)) {
        if (seen.has(key)) continue;
        seen.add(key);
        const method = Object.getOwnPropertyDescriptor(proto, key)?.value;
        const meta = commandMetadataOf(method);
        if (!meta?.isCommand) continue;
        if (only !== null && !only.has(String(meta.options.name ?? key).toLowerCase())) continue;
        const options2 = { ...meta.options, authenticated: meta.authenticated };
        const invoke = (h: CommandHandler) => (method as (this: CommandHandler) => unknown).call(h);
        this.#register(this.#define(meta.options.name ?? key, meta.params, options2, handlerClass, options, invoke, builtin));
      }
    }
    const declaration = commandDeclarationOf(handlerClass);
    if (declaration) {
      if (typeof (handlerClass.prototype as Partial<DeclaredCommand>).run !== "function") {
        throw new RetopyError("RETOPY_INVALID_HANDLER", `${handlerClass.name || "a Command class"} needs a run() method`);
      }
      const invoke = (h: CommandHandler) => (h as DeclaredCommand).run();
      this.#register(this.#define(declaration.name, normalize(declaration.params), declaration, handlerClass, options, invoke, builtin));
    }
  }

  #define(
    rawName: string,
    params: readonly ParameterOptions[],
    options: CommandOptions,
    handlerClass: HandlerClass,
    initializeOptions: Readonly<Record<string, unknown>>,
    invoke: (handler: CommandHandler) => unknown,
    builtin: boolean,
  ): CommandDefinition {
    const name = String(rawName).toLowerCase();
    if (!/^[a-z_][\w.:-]*$/.test(name)) {
      throw new RetopyError("RETOPY_INVALID_COMMAND", `'${rawName}' is not a valid command name`);
    }
    const specs = validateParameters(name, params);
    const proto = handlerClass.prototype as CommandHandler;
    const base = CommandHandler.prototype;
    return {
      hooks: {
        initialize: proto.initialize !== base.initialize,
        prepare: proto.prepare !== base.prepare,
        onFinish: proto.onFinish !== base.onFinish,
      },
      name,
      params: specs,
      help: options.help ?? "",
      authenticated: options.authenticated === true || this.#needsLogin(name, options, builtin),
      login: options.login === true,
      timeout: checkTimeout(name, options.timeout),
      autoHandshake: options.autoHandshake !== false,
      usage: formatUsage(name, specs),
      handlerClass,
      initializeOptions,
      invoke,
      builtin,
      slot: this.#nextSlot++,
    };
  }

  /** Whether the login policy (`requireLogin`, `builtinLogin`) refuses `name` before a login. */
  #needsLogin(name: string, options: CommandOptions, builtin: boolean): boolean {
    const { requireLogin, builtinLogin, authenticate } = this.settings;
    if (requireLogin && options.login !== true) return true;
    if (!builtin) return false;
    return Object.hasOwn(builtinLogin, name) ? builtinLogin[name] === true : authenticate !== undefined && LOGIN_BY_DEFAULT.has(name);
  }

  #register(definition: CommandDefinition): void {
    this.#spellings.clear();
    this.#lastName = null;
    const existing = this.#commands.get(definition.name);
    if (existing) {
      if (definition.builtin) return; // the user's command of the same name wins
      if (!existing.builtin) {
        throw new RetopyError("RETOPY_DUPLICATE_COMMAND", `command '${definition.name}' is defined twice`);
      }
      this.#commands.delete(definition.name);
    }
    this.#commands.set(definition.name, definition);
  }
}
