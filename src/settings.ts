/**
 * An application's settings: what each one means, its default, and the check that turns a
 * bad value into a RetopyError at startup. The Application keeps the checked copy.
 */
import type { ConnectionInfo } from "./connection-info.js";
import { RetopyError } from "./errors.js";
import { MAX_TIMER_MS } from "./limits.js";

export interface ApplicationSettings {
  /** Mount the built-in `commands`, `help` and `stats` after your handlers (default true). */
  defaultHandlers?: boolean | undefined;
  /**
   * The Redis compatibility commands (PING, ECHO, HELLO, AUTH, CLIENT, SELECT, COMMAND,
   * CONFIG, INFO) that Redis clients and tools need: `true` mounts them all, `false` none,
   * an array of names just those (`["ping", "echo"]`). Default: the value of
   * `defaultHandlers`, so `defaultHandlers: false` alone leaves only your commands and
   * `quit`. An application's own command of the same name always wins.
   */
  redisCommands?: boolean | readonly string[] | undefined;
  /** Put the message of unexpected errors in the reply instead of `Internal Server Error`. */
  debug?: boolean | undefined;
  /**
   * Checks credentials for the built-in `AUTH`, `HELLO ... AUTH` and a header `auth=user:pass`
   * token, and for an app's own login command through `this.attemptLogin(user, password)`,
   * all on one guarded path (`src/auth.ts`). Resolve true (or the user name to log in as) to
   * accept. Without it, every login is refused. `passwordAuthenticator(users)` builds one that
   * compares in constant time.
   */
  authenticate?: AuthenticateFunction | undefined;
  /**
   * Milliseconds every failed login waits before its refusal is replied (default 100; 0: no
   * wait). The connection's later commands wait too, which slows guessing down.
   */
  authFailureDelay?: number | undefined;
  /**
   * Failed logins one connection may make; the last refusal is replied and the connection
   * closes (default 10; 0: unlimited). A successful login does not reset the count.
   */
  maxAuthFailures?: number | undefined;
  /**
   * Failed logins one remote address may make across all its connections within
   * `authFailureWindow` (default 30; 0: unlimited). Past it, that address's logins are refused
   * without asking `authenticate` until the window ends, so reconnecting buys no guesses.
   * IPv6 addresses count by their /64 network.
   */
  maxAuthFailuresPerAddress?: number | undefined;
  /** The window of `maxAuthFailuresPerAddress`, in milliseconds (default 60000). */
  authFailureWindow?: number | undefined;
  /**
   * Like Redis's `requirepass`: until a connection has logged in, only the login path runs
   * (AUTH, HELLO with AUTH, a header `auth=`, commands marked `@command({ login: true })`)
   * and QUIT; everything else is refused with `-NOAUTH Authentication required.` (text mode:
   * `-ERR Authorization required`). Default false. Needs `authenticate`.
   */
  requireLogin?: boolean | undefined;
  /**
   * Which built-in commands need a login, by name: `{ stats: true, subscribe: false }`.
   * Names left out keep their default: with `authenticate` set, `subscribe`, `psubscribe`,
   * `publish` and `pubsub` need a login (a stranger must not read what logged-in users publish); without
   * it nobody can log in, so none does. An unknown name is a RetopyError at startup.
   */
  builtinLogin?: Readonly<Record<string, boolean>> | undefined;
  /**
   * Who sees INFO's process details (os, Node version, pid, memory): `"logged-in"` clients
   * (the default) or `"everyone"`.
   */
  processInfo?: "logged-in" | "everyone" | undefined;
}

/** The application's credential check; see `ApplicationSettings.authenticate`. */
export type AuthenticateFunction = (
  user: string,
  password: string,
  connection: ConnectionInfo,
) => boolean | string | Promise<boolean | string>;

/** The settings as an application holds them: every default filled in, frozen. */
export type CheckedSettings = Readonly<Required<Omit<ApplicationSettings, "authenticate">> & Pick<ApplicationSettings, "authenticate">>;


function checkRedisCommands(value: unknown, defaultHandlers: boolean): boolean | readonly string[] {
  if (value === undefined) return defaultHandlers;
  if (typeof value === "boolean") return value;
  if (Array.isArray(value) && value.every((name) => typeof name === "string")) return Object.freeze([...(value as string[])]);
  throw new RetopyError("RETOPY_INVALID_OPTION", "redisCommands must be true, false or an array of command names");
}

/** The settings with their defaults, checked: a bad value is a RetopyError at startup. */
export function checkSettings(settings: ApplicationSettings): CheckedSettings {
  const checked = {
    defaultHandlers: settings.defaultHandlers ?? true,
    redisCommands: checkRedisCommands(settings.redisCommands, settings.defaultHandlers ?? true),
    debug: settings.debug ?? false,
    authenticate: settings.authenticate,
    authFailureDelay: settings.authFailureDelay ?? 100,
    maxAuthFailures: settings.maxAuthFailures ?? 10,
    maxAuthFailuresPerAddress: settings.maxAuthFailuresPerAddress ?? 30,
    authFailureWindow: settings.authFailureWindow ?? 60_000,
    requireLogin: settings.requireLogin ?? false,
    builtinLogin: Object.freeze({ ...(settings.builtinLogin ?? {}) }) as Readonly<Record<string, boolean>>,
    processInfo: settings.processInfo ?? "logged-in",
  };
  if (!Number.isSafeInteger(checked.maxAuthFailuresPerAddress) || checked.maxAuthFailuresPerAddress < 0) {
    throw new RetopyError("RETOPY_INVALID_OPTION", "maxAuthFailuresPerAddress must be a non-negative integer (0: unlimited)");
  }
  const window = checked.authFailureWindow;
  if (typeof window !== "number" || !Number.isFinite(window) || window <= 0) {
    throw new RetopyError("RETOPY_INVALID_OPTION", "authFailureWindow must be a positive number of milliseconds");
  }
  if (typeof checked.requireLogin !== "boolean") throw new RetopyError("RETOPY_INVALID_OPTION", "requireLogin must be a boolean");
  if (checked.requireLogin && checked.authenticate === undefined) {
    throw new RetopyError("RETOPY_INVALID_OPTION", "requireLogin needs an authenticate function: without it nobody could ever log in");
  }
  for (const [name, value] of Object.entries(checked.builtinLogin)) {
    if (typeof value !== "boolean") throw new RetopyError("RETOPY_INVALID_OPTION", `builtinLogin.${name} must be a boolean`);
  }
  if (checked.processInfo !== "logged-in" && checked.processInfo !== "everyone") {
    throw new RetopyError("RETOPY_INVALID_OPTION", `processInfo must be "logged-in" or "everyone"`);
  }
  if (checked.authenticate !== undefined && typeof checked.authenticate !== "function") {
    throw new RetopyError("RETOPY_INVALID_OPTION", "authenticate must be a function");
  }
  const delay = checked.authFailureDelay;
  if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0 || delay > MAX_TIMER_MS) {
    throw new RetopyError("RETOPY_INVALID_OPTION", `authFailureDelay must be a number of milliseconds from 0 to ${MAX_TIMER_MS}`);
  }
  if (!Number.isSafeInteger(checked.maxAuthFailures) || checked.maxAuthFailures < 0) {
    throw new RetopyError("RETOPY_INVALID_OPTION", "maxAuthFailures must be a non-negative integer (0: unlimited)");
  }
  return checked;
}
