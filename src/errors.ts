/**
 * Errors a command can throw on purpose, and the coded errors retopy itself raises.
 *
 * A `CommandError` is the user-facing way to refuse a command: whatever the command had
 * written is discarded and the client gets `-<code> <message>`. Any other exception is
 * treated as a bug: the client sees `-ERR Internal Server Error` and the stack goes to the log.
 */

/** Refuses a command with `-<code> <message>`; `code` defaults to `ERR` as in Redis. */
export class CommandError extends Error {
  readonly code: string;

  constructor(message: string, code = "ERR") {
    super(message);
    this.name = "CommandError";
    this.code = code;
  }
}

/** The CommandError that replies `reply` (an entry of `WireErrors`, src/protocol/wire-errors.ts). */
export function refuse(reply: { readonly code: string; readonly message: string }): CommandError {
  return new CommandError(reply.message, reply.code);
}

/**
 * A command ran past its timeout (`commandTimeout`, `@command({ timeout })`): its signal is
 * aborted with this error, and the client gets `-TIMEOUT command 'name' timed out after N ms`.
 */
export class CommandTimeoutError extends CommandError {
  constructor(command: string, readonly timeout: number) {
    super(`command '${command}' timed out after ${timeout} ms`, "TIMEOUT");
    this.name = "CommandTimeoutError";
  }
}

/** A declared argument was not given and has no default. */
export class MissingArgumentError extends CommandError {
  readonly argument: string;

  constructor(argument: string, detail?: string) {
    super(detail ?? `missing argument '${argument}'`);
    this.name = "MissingArgumentError";
    this.argument = argument;
  }
}

/** An argument failed its type conversion. */
export class InvalidArgumentError extends CommandError {
  readonly argument: string;

  constructor(argument: string, message: string) {
    super(message);
    this.name = "InvalidArgumentError";
    this.argument = argument;
  }
}

/** Codes of the programming errors retopy raises (Fastify-style), stable for `err.code` checks. */
export type RetopyErrorCode =
  | "RETOPY_INVALID_COMMAND"
  | "RETOPY_DUPLICATE_COMMAND"
  | "RETOPY_INVALID_HANDLER"
  | "RETOPY_WRITE_AFTER_FINISH"
  | "RETOPY_INVALID_OPTION"
  | "RETOPY_SERVER_STATE"
  /** An optional feature was used without its optional peer dependencies installed. */
  | "RETOPY_MISSING_PEER"
  /** The `redis` option's Redis could not be reached (or refused the login) when the server started. */
  | "RETOPY_REDIS_UNAVAILABLE";

/** A misuse of the API by the application's code (not by a client). */
export class RetopyError extends Error {
  readonly code: RetopyErrorCode;

  constructor(code: RetopyErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "RetopyError";
    this.code = code;
  }
}
