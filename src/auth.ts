/**
 * Login safety: constant-time credential checks, and the one path every login attempt takes
 * (AUTH, HELLO ... AUTH, a header `auth=user:password` token and an application's own login
 * command through `CommandHandler.attemptLogin`).
 *
 * That path asks the application's `authenticate`, counts failures per connection, waits
 * `authFailureDelay` ms after each failure before the refusal is replied (a connection runs
 * its commands strictly in order, so whatever is pipelined behind the attempt waits too), and
 * closes the connection after `maxAuthFailures` failures. A success does not reset the count:
 * otherwise one valid account would let a client interleave its own logins with guesses at
 * another user's password, without bound, on one connection.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { ApplicationSettings, AuthenticateFunction } from "./settings.js";
import { RetopyError } from "./errors.js";
import type { ConnectionInfo } from "./connection-info.js";
import { LoginBudget } from "./login-budget.js";

function digest(value: string | Buffer): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * Compares two strings or Buffers (strings as UTF-8) in constant time. Their SHA-256 digests
 * are compared with `crypto.timingSafeEqual`, so neither the position of the first difference
 * nor a difference in length shows in the time taken.
 */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Users and their passwords for {@link passwordAuthenticator}. */
export type PasswordTable = Readonly<Record<string, string | Buffer>> | ReadonlyMap<string, string | Buffer>;

/**
 * An `authenticate` setting from a fixed table of users and passwords:
 * `new Application(handlers, { authenticate: passwordAuthenticator({ alice: "s3cret" }) })`.
 *
 * The table is copied when the authenticator is built (later changes to it are not seen), and
 * only the digests of the passwords are kept. Every attempt does the same work, whether the
 * user exists or not: one digest of the password given and one constant-time comparison
 * (against a random digest nobody can match, for an unknown user), so the time taken tells
 * neither which users exist nor how long their passwords are.
 */
export function passwordAuthenticator(users: PasswordTable): AuthenticateFunction {
  const entries = users instanceof Map ? [...users.entries()] : Object.entries(users as Record<string, unknown>);
  // A Map, not an object: a user named `__proto__` or `constructor` must not find anything.
  const digests = new Map<string, Buffer>();
  for (const [user, password] of entries) {
    if (typeof user !== "string" || !(typeof password === "string" || Buffer.isBuffer(password))) {
      throw new RetopyError("RETOPY_INVALID_OPTION", "passwordAuthenticator needs user names mapped to string or Buffer passwords");
    }
    digests.set(user, digest(password));
  }
  const nobody = randomBytes(32);
  return (user, password) => {
    const expected = digests.get(user);
    const matches = timingSafeEqual(digest(password), expected ?? nobody);
    return expected !== undefined && matches;
  };
}

/** What a login attempt came to. */
export type LoginOutcome =
  | { readonly ok: true; readonly user: string }
  /** `unconfigured`: the application has no `authenticate` setting, so nobody can log in. */
  | { readonly ok: false; readonly reason: "refused" | "unconfigured" };

type AuthSettings = Pick<ApplicationSettings, "authenticate"> & {
  readonly authFailureDelay: number;
  readonly maxAuthFailures: number;
  readonly maxAuthFailuresPerAddress: number;
  readonly authFailureWindow: number;
};

/** One budget per application (its settings object), shared by all its servers' connections. */
const budgets = new WeakMap<AuthSettings, LoginBudget>();

function budgetOf(settings: AuthSettings): LoginBudget {
  let budget = budgets.get(settings);
  if (!budget) {
    budget = new LoginBudget(settings.maxAuthFailuresPerAddress, settings.authFailureWindow);
    budgets.set(settings, budget);
  }
  return budget;
}

/** Failed attempts per connection; weak, so a closed connection takes its count with it. */
const failures = new WeakMap<ConnectionInfo, number>();

const REFUSED: LoginOutcome = { ok: false, reason: "refused" };
const UNCONFIGURED: LoginOutcome = { ok: false, reason: "unconfigured" };

/** Longest user name quoted in the log: the name is the client's, and unbounded. */
const LOGGED_USER_LENGTH = 64;

/** How many failed logins `connection` has had (they are never reset while it lives). */
function authFailuresOf(connection: ConnectionInfo): number {
  return failures.get(connection) ?? 0;
}

/**
 * The one path every login attempt takes; see the module comment. On success the connection
 * is logged in (`connection.user` set to the user, or to the name `authenticate` returned).
 * On the failure that reaches `maxAuthFailures` the connection is closed after the reply of
 * the command that is running (the refusal). The password is never logged.
 */
export async function performLogin(
  settings: AuthSettings,
  connection: ConnectionInfo,
  user: string,
  password: string,
): Promise<LoginOutcome> {
  const { authenticate, maxAuthFailures } = settings;
  // Nothing can succeed, so there is nothing to slow down or count.
  if (!authenticate) return UNCONFIGURED;
  const budget = budgetOf(settings);
  // Charged now, before any await: a client that hangs up before its refusal still paid.
  const charge = budget.charge(connection.remoteAddress);
  if (charge === "just-spent") {
    connection.logger.warn(
      { remoteAddress: connection.remoteAddress, maxAuthFailuresPerAddress: settings.maxAuthFailuresPerAddress, authFailureWindow: settings.authFailureWindow },
      "too many failed logins from this address; refusing its logins for the rest of the window",
    );
  }
  const locked = (maxAuthFailures > 0 && authFailuresOf(connection) >= maxAuthFailures) || charge !== "allowed";
  let result: boolean | string = false;
  if (!locked) {
    try {
      result = await authenticate(user, password, connection);
    } catch (error) {
      // Fails closed, and counts: a check that throws must not become a fast oracle.
      connection.logger.error({ err: error }, "authenticate failed");
    }
  }
  if (result) {
    budget.refund(connection.remoteAddress);
    const name = typeof result === "string" ? result : user;
    connection.user = name;
    return { ok: true, user: name };
  }
  const count = authFailuresOf(connection) + 1;
  failures.set(connection, count);
  const shown = user.length > LOGGED_USER_LENGTH ? `${user.slice(0, LOGGED_USER_LENGTH)}...` : user;
  connection.logger.debug({ user: shown, failures: count }, "login refused");
  if (settings.authFailureDelay > 0) {
    // The connection's signal ends the wait when it closes, so no timer outlives it.
    await sleep(settings.authFailureDelay, undefined, { signal: connection.signal }).catch(() => undefined);
  }
  if (maxAuthFailures > 0 && count >= maxAuthFailures && connection.state !== "closed") {
    if (count === maxAuthFailures) {
      connection.logger.warn({ user: shown, failures: count }, "too many failed logins; closing the connection");
    }
    connection.close();
  }
  return REFUSED;
}
