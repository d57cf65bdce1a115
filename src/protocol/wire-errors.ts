/**
 * Every error reply retopy itself sends, `-CODE message`, in one catalogue. An application's
 * own `CommandError`s are its business; these are ours, worded as Redis words them where a
 * Redis client might read them, so client libraries recognise them.
 *
 * Entries are plain `ErrorReply` data: the runner encodes them directly, and a built-in
 * command throws one with `refuse()` (src/errors.ts).
 */
import { echoed } from "../client-text.js";
import type { ErrorReply } from "../reply.js";

/** What an error code may look like on the wire: `ERR`, `WRONGPASS`, `MY_CODE`. */
export const ERROR_CODE = /^[A-Z][A-Z0-9_]*$/;

const err = (message: string): ErrorReply => Object.freeze({ code: "ERR", message });

export const WireErrors = {
  // Dispatch
  unknownCommand: (name: string) => err(`unknown command '${echoed(name)}'`),
  unknownSubcommand: (sub: string, command: string) => err(`unknown subcommand '${echoed(sub)}'. Try ${command} HELP.`),
  wrongArity: (name: string) => err(`wrong number of arguments for '${name}' command`),
  syntax: err("syntax error"),
  notAnInteger: err("value is not an integer or out of range"),
  internal: err("Internal Server Error"),
  /** With `debug: true`: the thrown value's description follows. */
  internalWithDetail: (detail: string) => err(`Internal Server Error: ${detail}`),

  // Login
  /** A command that needs a login, asked in text mode (the original retopy's wording). */
  authorizationRequired: err("Authorization required"),
  /** The same, asked over RESP: Redis clients understand NOAUTH. */
  noAuth: Object.freeze({ code: "NOAUTH", message: "Authentication required." }) as ErrorReply,
  wrongPass: Object.freeze({ code: "WRONGPASS", message: "invalid username-password pair or user is disabled." }) as ErrorReply,
  authUnconfigured: err(
    "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
  ),
  helloNeedsAuth: Object.freeze({
    code: "NOAUTH",
    message:
      "HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
  }) as ErrorReply,

  // Connection and protocol
  maxClients: err("max number of clients reached"),
  unbalancedQuotes: err("Protocol error: unbalanced quotes"),
  tooBigInline: err("Protocol error: too big inline request"),
  invalidMultibulkLength: err("Protocol error: invalid multibulk length"),
  invalidBulkLength: err("Protocol error: invalid bulk length"),
  /** `what`: "multibulk length" or "bulk length", the number that did not parse. */
  invalidLength: (what: string) => err(`Protocol error: invalid ${what}`),
  expectedBulk: (got: string) => err(`Protocol error: expected '$', got '${got}'`),
  expectedCrlfAfterBulk: err("Protocol error: expected CRLF after bulk string"),
  headerTooLarge: (max: number) => err(`Protocol error: header too large (max ${max} bytes)`),
  headerTimeout: err("Protocol error: header timeout"),
  noProto: Object.freeze({ code: "NOPROTO", message: "sorry, this protocol version is not supported" }) as ErrorReply,
} as const;

/** The line a connection refused at accept gets (written before any protocol is known). */
export const MAX_CLIENTS_LINE = `-${WireErrors.maxClients.code} ${WireErrors.maxClients.message}\r\n`;
