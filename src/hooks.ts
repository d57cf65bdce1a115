/**
 * Application-wide lifecycle hooks, in the spirit of Fastify's `addHook`:
 *
 *   onConnect → (preCommand → the command → onError if it failed → onResponse)* → onClose
 *
 * Each hook may be sync or return a promise; hooks of one kind run in registration order,
 * each awaited before the next. A kind with no hook costs nothing: its list stays null, and
 * the command path checks one field (`HookSet.command`) per command.
 */
import type { ConnectionInfo } from "./connection-info.js";
import type { CommandOutcome } from "./command-stats.js";
import type { RawArgument } from "./command-spec.js";
import type { CloseReason } from "./protocol/wire.js";
import { RetopyError } from "./errors.js";

/** What `preCommand` hooks see: the command about to run (a mounted one; unknown names never reach hooks). */
export interface CommandHookContext {
  /** The command's name as mounted (lowercase). */
  readonly command: string;
  /** The request as received: the command's name, then its arguments. */
  readonly argv: readonly RawArgument[];
  readonly connection: ConnectionInfo;
}

/** What `onResponse` and `onError` hooks see: the command once its reply is encoded. */
export interface CommandResultContext extends CommandHookContext {
  /** `ok`, `error` (it ran and failed) or `rejected` (it never ran: a login required, bad arguments, a preCommand refusal). */
  readonly outcome: CommandOutcome;
  /** What it failed with (`error` and `rejected`); undefined after `ok`. */
  readonly error: unknown;
  /** Milliseconds from the command's lookup (before preCommand hooks) to its reply being encoded. */
  readonly durationMs: number;
}

/** What an `onError` hook is told about where the error came from. */
export interface ErrorHookContext {
  readonly connection: ConnectionInfo;
  /** The command's name, or null for a connection hook. */
  readonly command: string | null;
  /** The hook that threw, or null when the command itself failed. */
  readonly hook: HookName | null;
}

/** A hook returns nothing, or a promise of nothing (awaited before the next hook). */
export type HookResult = void | Promise<void>;

/** Every hook, by name, with its signature. */
export interface Hooks {
  /**
   * A client connected. Commands it sends wait until every onConnect hook is done; a hook
   * that throws closes the connection (a `CommandError` is sent to the client first).
   */
  onConnect: (connection: ConnectionInfo) => HookResult;
  /** The connection is gone, with why (`client_closed`, `quit`, `idle_timeout`, ...). Nothing can be sent any more. */
  onClose: (connection: ConnectionInfo, reason: CloseReason) => HookResult;
  /**
   * Before a mounted command runs (after the login check). Throw a `CommandError` to refuse
   * it: that is its reply, and it counts as rejected. Commands behind it wait for it.
   */
  preCommand: (command: CommandHookContext) => HookResult;
  /** After a command's reply is encoded (it is written without waiting for this hook); the next command waits for it. */
  onResponse: (command: CommandResultContext) => HookResult;
  /**
   * A command failed (outcome `error`), or a hook threw (a preCommand `CommandError` is a
   * refusal, not an error). Runs before `onResponse`; it cannot change the reply.
   */
  onError: (error: unknown, context: ErrorHookContext) => HookResult;
}

export type HookName = keyof Hooks;

const HOOK_NAMES: readonly HookName[] = ["onConnect", "onClose", "preCommand", "onResponse", "onError"];

/** The hooks of one application: a null list for each kind nobody registered. */
export class HookSet {
  onConnect: Hooks["onConnect"][] | null = null;
  onClose: Hooks["onClose"][] | null = null;
  preCommand: Hooks["preCommand"][] | null = null;
  onResponse: Hooks["onResponse"][] | null = null;
  onError: Hooks["onError"][] | null = null;
  /** True once any hook a command may run is registered: the one check on the command path. */
  command = false;

  add<K extends HookName>(name: K, hook: Hooks[K]): void {
    if (!HOOK_NAMES.includes(name)) {
      throw new RetopyError("RETOPY_INVALID_OPTION", `unknown hook '${String(name)}' (known: ${HOOK_NAMES.join(", ")})`);
    }
    if (typeof hook !== "function") throw new RetopyError("RETOPY_INVALID_OPTION", `the ${name} hook must be a function`);
    const list = (this[name] ?? []) as Hooks[K][];
    list.push(hook);
    (this as Record<HookName, unknown>)[name] = list;
    this.command = this.preCommand !== null || this.onResponse !== null || this.onError !== null;
  }
}

/** One command's hook context; made only when the application has command hooks. */
export class CommandCall implements CommandResultContext {
  outcome: CommandOutcome = "ok";
  error: unknown = undefined;
  durationMs = 0;
  constructor(
    readonly command: string,
    readonly argv: readonly RawArgument[],
    readonly connection: ConnectionInfo,
  ) {}
}

/**
 * Calls `hooks` in order with `call`, synchronously until one returns a thenable, then each
 * after the previous settles. The first that throws or rejects stops the rest: it throws
 * (sync) or rejects (async) with that error.
 */
export function runHooks<H>(hooks: readonly H[], call: (hook: H) => unknown, from = 0): void | Promise<void> {
  for (let i = from; i < hooks.length; i++) {
    const result = call(hooks[i]!);
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
      return Promise.resolve(result as PromiseLike<unknown>).then(() => runHooks(hooks, call, i + 1));
    }
  }
}
