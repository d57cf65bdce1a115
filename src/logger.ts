import { type DestinationStream, pino, type Logger, type LoggerOptions } from "pino";

/** pino options for the logger retopy creates, plus where it writes (default: stdout). */
export interface RetopyLoggerOptions extends LoggerOptions {
  /** A pino destination: a stream, `pino.destination(...)`, or anything with `write(line)`. */
  destination?: DestinationStream | undefined;
}

/**
 * `true` or omitted: pino at `info`; `false`: silent; pino options (with an optional
 * `destination`); or your own pino logger, used as it is (add `redact: logRedaction` to it).
 */
export type LoggerOption = boolean | Logger | RetopyLoggerOptions;

/**
 * What the loggers retopy creates censor, as `[redacted]`: fields that may carry credentials
 * or a client's arguments, at the top level of a log line and one level down (`header.auth`,
 * `err.password`). retopy's own log lines never put them there; this guards the lines an
 * application adds through `this.logger`.
 */
export const logRedaction: Readonly<{ paths: readonly string[]; censor: string }> = Object.freeze({
  paths: Object.freeze(
    ["password", "auth", "credentials", "token", "secret", "args", "argv"].flatMap((key) => [key, `*.${key}`]),
  ),
  censor: "[redacted]",
});

/** retopy's redaction joined with the paths of a `redact` option the caller gave. */
function redactionWith(own: LoggerOptions["redact"]): NonNullable<LoggerOptions["redact"]> {
  const paths = [...logRedaction.paths];
  if (own === undefined) return { paths, censor: logRedaction.censor };
  const theirs = Array.isArray(own) ? { paths: own } : own;
  for (const path of theirs.paths) if (!paths.includes(path)) paths.push(path);
  return { censor: logRedaction.censor, ...theirs, paths };
}

export function createLogger(option: LoggerOption | undefined): Logger {
  if (option === false) return pino({ level: "silent" });
  if (option === undefined || option === true) return pino({ name: "retopy", level: "info", redact: redactionWith(undefined) });
  if (typeof (option as Logger).child === "function") return option as Logger;
  const { destination, redact, ...options } = option as RetopyLoggerOptions;
  const settings: LoggerOptions = { name: "retopy", ...options, redact: redactionWith(redact) };
  return destination === undefined ? pino(settings) : pino(settings, destination);
}
