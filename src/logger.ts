import { pino, type Logger, type LoggerOptions } from "pino";

/** `true` or omitted: pino at `info`; `false`: silent; pino options; or your own pino logger. */
export type LoggerOption = boolean | Logger | LoggerOptions;

export function createLogger(option: LoggerOption | undefined): Logger {
  if (option === false) return pino({ level: "silent" });
  if (option === undefined || option === true) return pino({ name: "retopy", level: "info" });
  if (typeof (option as Logger).child === "function") return option as Logger;
  return pino({ name: "retopy", ...(option as LoggerOptions) });
}
