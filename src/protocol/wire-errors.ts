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

  // Arguments (src/command-spec.ts binds them; `getArgument` asks for one by name)
  invalidArgument: (param: string, command: string, expected: string, got: string) =>
    err(`invalid value for argument '${param}' of '${command}': expected ${expected}, got '${echoed(got)}'`),
  /** A parameter's own `validate` refused the value, saying why. */
  refusedArgument: (param: string, command: string, reason: string) =>
    err(`invalid value for argument '${param}' of '${command}': ${echoed(reason)}`),
  unexpectedArgument: (command: string, got: string, usage: string) =>
    err(`wrong number of arguments for '${command}': unexpected '${echoed(got)}' (usage: ${usage})`),
  missingArgument: (command: string, param: string, usage: string) =>
    err(`wrong number of arguments for '${command}': missing argument '${param}' (usage: ${usage})`),
  /** `getArgument(name)` of a name the command does not declare. */
  undeclaredArgument: (name: string) => err(`missing argument '${name}'`),
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
  /** A decoder's error item: its message is one of the protocol entries below, its code ERR. */
  decoderItem: (message: string) => err(message),
  maxClients: err("max number of clients reached"),
  unbalancedQuotes: err("Protocol error: unbalanced quotes"),
  tooBigInline: err("Protocol error: too big inline request"),
  /** `what`: "multibulk length" or "bulk length", the number that did not parse. */
  invalidLength: (what: string) => err(`Protocol error: invalid ${what}`),
  expectedBulk: (got: string) => err(`Protocol error: expected '$', got '${got}'`),
  expectedCrlfAfterBulk: err("Protocol error: expected CRLF after bulk string"),
  headerTooLarge: (max: number) => err(`Protocol error: header too large (max ${max} bytes)`),
  headerTimeout: err("Protocol error: header timeout"),
  noProto: Object.freeze({ code: "NOPROTO", message: "sorry, this protocol version is not supported" }) as ErrorReply,
  protoNotInteger: err("Protocol version is not an integer or out of range"),
  helloOption: (option: string) => err(`Syntax error in HELLO option '${echoed(option)}'`),

  // Redis's connection commands (src/compat/)
  clientNameInvalid: err("Client names cannot contain spaces, newlines or special characters."),
  clientInfoOption: (attr: string) => err(`Unrecognized option '${echoed(attr)}'`),
  clientInfoInvalid: (key: string) => err(`${key} cannot contain spaces, newlines or special characters.`),
  dbIndexOutOfRange: err("DB index is out of range"),
  configUnsupported: (sub: string) => err(`CONFIG ${echoed(sub).toUpperCase()} is not supported by retopy`),

  // The server's managed Redis connection (the `redis` option, src/redis-connection.ts)
  /** A command's call to Redis failed without an answer from Redis; whether it took effect is in the wording. */
  redisNotSent: err("Redis is unavailable: the command did not reach it; try again later"),
  redisMaybeRan: err("Redis connection lost during the command: it may or may not have taken effect"),
  redisNoAnswer: err("Redis did not answer in time: the command may or may not have taken effect"),

  // Pub/sub transports (src/pubsub/)
  /** PUBLISH or PUBSUB while the Redis transport's link is down: nothing was published. */
  pubsubLinkDown: err("pub/sub is unavailable: the link to Redis is down (nothing was published; try again)"),
  /** The link dropped with the PUBLISH in flight: Redis may or may not have published it. */
  pubsubLinkLost: err("pub/sub link to Redis lost during the call: the message may or may not have been published"),
  /** Redis took longer than the transport's call timeout to answer: it may still publish it. */
  pubsubNoAnswer: err("pub/sub: Redis did not answer in time (a PUBLISH may or may not have taken effect)"),
  /** A RESP channel or pattern name whose bytes are not UTF-8: decoded, two such names could meet on one channel. */
  pubsubNameNotUtf8: err("channel and pattern names must be UTF-8: this one is not valid UTF-8"),
  /** Redis answered the transport's call with an error of its own. */
  pubsubRedisError: (message: string) => err(`Redis refused the pub/sub call: ${echoed(message)}`),
} as const;

/** The line a connection refused at accept gets (written before any protocol is known). */
export const MAX_CLIENTS_LINE = `-${WireErrors.maxClients.code} ${WireErrors.maxClients.message}\r\n`;
