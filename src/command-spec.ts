import { InvalidArgumentError, MissingArgumentError, RetopyError } from "./errors.js";
import { asciiLowerCase } from "./client-text.js";
import { WireErrors } from "./protocol/wire-errors.js";

/**
 * Built-in argument types, or any function that converts the raw string (and may throw).
 * `buffer` gives the argument's bytes as a Buffer (binary-safe over RESP). `raw` gives the
 * argument as it arrived, with no conversion: a string for text-protocol words and short
 * plain-ASCII RESP bulks, a Buffer for any other bulk, so it is lossless over RESP, and the cheapest way to keep values that
 * are only stored and sent back (a key-value store's values).
 */
export type ParameterType = "string" | "int" | "float" | "boolean" | "buffer" | "raw" | ((raw: string) => unknown);

/** An argument as it came off the wire: text, or raw bytes from a RESP bulk string. */
export type RawArgument = string | Buffer;

/** One positional argument of a command, as given to `@parameter(...)` or `app.command(...)`. */
export interface ParameterOptions {
  name: string;
  type?: ParameterType | undefined;
  help?: string | undefined;
  /** Makes the argument optional; used when the client leaves it out. */
  default?: unknown;
  /**
   * Makes the argument optional without a default: its value is undefined when the client
   * leaves it out (an empty array for a variadic one).
   */
  optional?: boolean;
  /** Only on the last parameter: it takes every remaining argument (`rem key [key ...]`). */
  variadic?: boolean | undefined;
}

/** Command-level options, from `@command(...)` or `app.command(...)`. */
export interface CommandOptions {
  /** Wire name; defaults to the method name. Matched case-insensitively. */
  name?: string | undefined;
  help?: string | undefined;
  /** Refuse the command until the connection has a user (`this.connection.user`). */
  authenticated?: boolean | undefined;
  /**
   * With handshake `auto`, a first line starting with this command runs it (true, the
   * default). False keeps such a line a header: the Redis compatibility commands use it so
   * a greeting like `hello there` stays a header for telnet users.
   */
  autoHandshake?: boolean | undefined;
  /**
   * Part of the login path: runs before a login even under the application's `requireLogin`
   * (AUTH, HELLO and QUIT are; mark your own login command with it).
   */
  login?: boolean | undefined;
  /**
   * Milliseconds this command may take, overriding the server's `commandTimeout`; 0 = no
   * limit. Past it the command's `this.signal` aborts and the client gets `-TIMEOUT ...`.
   */
  timeout?: number | undefined;
}

/** A parameter after validation: every option resolved. */
export interface ParameterSpec {
  readonly name: string;
  readonly type: ParameterType;
  readonly help: string;
  readonly optional: boolean;
  readonly default: unknown;
  readonly variadic: boolean;
}

/**
 * The arguments of one invocation, converted: one value per parameter, in declaration
 * order (an array for a variadic parameter). An array, not a Map: it is built per command.
 */
export type BoundArguments = readonly unknown[];

const NO_ARGUMENTS: BoundArguments = Object.freeze([]);
const INTEGER = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);
const NAME = /^[A-Za-z_][\w.:-]*$/;

/** Checks a command's parameter list once, at registration, so mistakes fail at startup. */
export function validateParameters(command: string, params: readonly ParameterOptions[]): ParameterSpec[] {
  const seen = new Set<string>();
  let sawOptional = false;
  return params.map((param, index) => {
    if (!param || typeof param.name !== "string" || !NAME.test(param.name)) {
      throw new RetopyError("RETOPY_INVALID_COMMAND", `'${command}': parameter ${index + 1} needs a name`);
    }
    if (seen.has(param.name)) {
      throw new RetopyError("RETOPY_INVALID_COMMAND", `'${command}': parameter '${param.name}' is declared twice`);
    }
    seen.add(param.name);
    const variadic = param.variadic === true;
    if (variadic && index !== params.length - 1) {
      throw new RetopyError("RETOPY_INVALID_COMMAND", `'${command}': only the last parameter can be variadic`);
    }
    const optional = param.optional === true || ("default" in param && param.default !== undefined);
    if (sawOptional && !optional && !variadic) {
      throw new RetopyError("RETOPY_INVALID_COMMAND", `'${command}': required '${param.name}' follows an optional parameter`);
    }
    sawOptional ||= optional;
    const type = param.type ?? "string";
    if (typeof type !== "function" && !["string", "int", "float", "boolean", "buffer", "raw"].includes(type)) {
      throw new RetopyError("RETOPY_INVALID_COMMAND", `'${command}': parameter '${param.name}' has unknown type '${String(type)}'`);
    }
    return { name: param.name, type, help: param.help ?? "", optional, default: param.default, variadic };
  });
}

/** `set key value`, `rem key [key ...]`, `help [command]`: the usage line of `commands` and `help`. */
export function formatUsage(name: string, params: readonly ParameterSpec[]): string {
  const parts = [name];
  for (const p of params) {
    if (p.variadic) parts.push(p.optional ? `[${p.name} ...]` : `${p.name} [${p.name} ...]`);
    else parts.push(p.optional ? `[${p.name}]` : p.name);
  }
  return parts.join(" ");
}

function convert(command: string, param: ParameterSpec, rawArgument: RawArgument): unknown {
  if (param.type === "raw") return rawArgument;
  if (param.type === "buffer") return typeof rawArgument === "string" ? Buffer.from(rawArgument) : rawArgument;
  const raw = typeof rawArgument === "string" ? rawArgument : rawArgument.toString("utf8");
  const fail = (expected: string): never => {
    throw new InvalidArgumentError(param.name, WireErrors.invalidArgument(param.name, command, expected, raw).message);
  };
  switch (param.type) {
    case "string":
      return raw;
    case "int": {
      const n = INTEGER.test(raw) ? Number(raw) : NaN;
      return Number.isSafeInteger(n) ? n : fail("an integer");
    }
    case "float": {
      const lower = asciiLowerCase(raw);
      if (lower === "inf" || lower === "+inf") return Infinity;
      if (lower === "-inf") return -Infinity;
      return FLOAT.test(raw) ? Number(raw) : fail("a number");
    }
    case "boolean": {
      const lower = asciiLowerCase(raw);
      if (TRUE_WORDS.has(lower)) return true;
      return FALSE_WORDS.has(lower) ? false : fail("a boolean (true/false)");
    }
    default:
      try {
        return param.type(raw);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new InvalidArgumentError(param.name, WireErrors.refusedArgument(param.name, command, reason).message);
      }
  }
}

/**
 * Matches the client's words (`argv[1..]`; `argv[0]` is the command word) to the declared
 * parameters and converts them. Throws a `MissingArgumentError` or `InvalidArgumentError`
 * naming the argument, which becomes the reply.
 */
export function bindArguments(command: string, params: readonly ParameterSpec[], argv: readonly RawArgument[]): BoundArguments {
  const given = argv.length - 1;
  if (params.length === 0 && given === 0) return NO_ARGUMENTS;
  const bound: unknown[] = new Array(params.length);
  let i = 1;
  for (let p = 0; p < params.length; p++) {
    const param = params[p]!;
    if (param.variadic) {
      const rest: unknown[] = [];
      for (; i < argv.length; i++) rest.push(convert(command, param, argv[i]!));
      if (rest.length === 0 && !param.optional) throw missing(command, params, param);
      // Without a default, an optional variadic parameter holds its own empty array, never
      // undefined (and not a shared one a handler could push to).
      bound[p] = rest.length === 0 && param.default !== undefined ? param.default : rest;
      break;
    }
    const raw = argv[i];
    if (raw === undefined) {
      if (!param.optional) throw missing(command, params, param);
      bound[p] = param.default;
      continue;
    }
    bound[p] = param.type === "string" && typeof raw === "string" ? raw : convert(command, param, raw);
    i++;
  }
  if (i < argv.length) {
    throw new InvalidArgumentError(
      params.length === 0 ? command : params[params.length - 1]!.name,
      WireErrors.unexpectedArgument(command, String(argv[i]), formatUsage(command, params)).message,
    );
  }
  return bound;
}

function missing(command: string, params: readonly ParameterSpec[], param: ParameterSpec): MissingArgumentError {
  return new MissingArgumentError(
    param.name,
    WireErrors.missingArgument(command, param.name, formatUsage(command, params)).message,
  );
}
