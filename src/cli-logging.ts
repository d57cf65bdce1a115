/**
 * The logger of `retopy serve`: its level and format from flags and the environment, and
 * pretty lines for a terminal through pino-pretty, an optional peer dependency loaded only
 * when it is used. Kept apart from cli.ts so the flag parsing stays one screen.
 *
 * Precedence for each setting: the flag, then the environment variable, then (for the level)
 * the module's exported `options.logger`, then the default.
 */
import type { DestinationStream } from "pino";
import type { RetopyLoggerOptions } from "./logger.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The hint printed (once, on stderr) when `auto` would have pretty-printed but cannot. */
export const PRETTY_MISSING_HINT = "retopy: logging JSON lines; install pino-pretty for readable logs on a terminal (npm i -D pino-pretty)\n";

/**
 * A setting from its flag or else its environment variable (an empty variable counts as
 * unset, as `PORT= retopy serve ...` means), with the name to quote in an error.
 */
export function fromFlagOrEnv(flag: string | undefined, flagName: string, envName: string): { value: string; source: string } | undefined {
  if (flag !== undefined) return { value: flag, source: flagName };
  const env = process.env[envName];
  return env === undefined || env === "" ? undefined : { value: env, source: envName };
}

/** pino-pretty's stream writing to stdout, or null when pino-pretty is not installed. */
async function prettyStream(): Promise<DestinationStream | null> {
  let build: (options: Record<string, unknown>) => DestinationStream;
  try {
    const loaded = (await import("pino-pretty")) as unknown as { default: typeof build };
    build = loaded.default;
  } catch {
    return null;
  }
  // sync: the last lines before process.exit (a shutdown, a fatal error) are not lost.
  // Colours only on a terminal, and never under NO_COLOR (https://no-color.org).
  return build({ colorize: process.stdout.isTTY === true && !process.env.NO_COLOR, sync: true, destination: 1, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" });
}

/**
 * The options of the logger the CLI creates. `auto` pretty-prints when stdout is a terminal
 * and pino-pretty is installed; when it is not, JSON with one hint line on stderr. `pretty`
 * without pino-pretty is an error (the caller turns the thrown message into one).
 */
export async function cliLoggerOptions(level: string, format: LogFormat, stdoutIsTTY: boolean): Promise<RetopyLoggerOptions> {
  const wantPretty = format === "pretty" || (format === "auto" && stdoutIsTTY);
  if (!wantPretty || level === "silent") return { level };
  const destination = await prettyStream();
  if (destination !== null) return { level, destination };
  if (format === "pretty") throw new Error("pretty logs need pino-pretty: npm i -D pino-pretty (or ask for --log-format json)");
  process.stderr.write(PRETTY_MISSING_HINT);
  return { level };
}
