/**
 * Every limit a server enforces, in one table: its name, default, unit and what it does. The
 * option types, the defaults, the startup check and the slices each part of the server sees
 * (decoder, connection, statechart) are all derived from it, and a test holds docs/deployment.md's
 * options table to it. A new limit is one entry here, then the code that enforces it.
 */
import { RetopyError } from "./errors.js";

/** Largest delay `setTimeout` honours (about 24.8 days); a longer one would fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

interface LimitSpec {
  readonly default: number;
  /** `bytes`, `count` or `ms` (a timer: at most MAX_TIMER_MS). */
  readonly unit: "bytes" | "count" | "ms";
  /** Whether 0 switches the limit off (else 0 is taken literally). */
  readonly zeroIsOff: boolean;
}

export const LIMITS = {
  /** Longest handshake line in bytes; longer closes the connection (default 255). */
  maxHeaderSize: { default: 255, unit: "bytes", zeroIsOff: false },
  /** Milliseconds to wait for the handshake line, 0 = forever (default 60000). */
  headerTimeout: { default: 60_000, unit: "ms", zeroIsOff: true },
  /** Longest inline command line in bytes (default 64 KiB, as Redis's inline limit). */
  maxLineLength: { default: 64 * 1024, unit: "bytes", zeroIsOff: false },
  /** Longest bulk string in a RESP request (default 512 MiB, as Redis's proto-max-bulk-len). */
  maxBulkLength: { default: 512 * 1024 * 1024, unit: "bytes", zeroIsOff: false },
  /** Most arguments in one RESP request (default 1,048,576). */
  maxArgs: { default: 1024 * 1024, unit: "count", zeroIsOff: false },
  /**
   * Most open connections (default 10,000, as Redis's maxclients). The next client gets
   * `-ERR max number of clients reached` and is closed; 0 = no limit. `listen()` lowers it
   * to what the open-file limit allows.
   */
  maxConnections: { default: 10_000, unit: "count", zeroIsOff: true },
  /**
   * Milliseconds a connection may go without sending a complete command, and with none
   * running, before it is closed (default 0 = never). Bytes that never make a command
   * do not count, so a client trickling one byte a second cannot hold its slot; nor does a
   * command that only waits for a client that stopped reading its replies (one still
   * reading a long reply is active). Logged-in (or, without logins, all) pub/sub
   * subscribers are exempt, as in Redis.
   */
  idleTimeout: { default: 0, unit: "ms", zeroIsOff: true },
  /**
   * Milliseconds an async command may run (default 0 = no limit, as Redis has none). Past
   * it, the command's `this.signal` aborts, the client gets `-TIMEOUT command 'name' timed
   * out after N ms`, and whatever the command writes or returns later is dropped; later
   * replies keep their order. `@command({ timeout })` sets one command's.
   */
  commandTimeout: { default: 0, unit: "ms", zeroIsOff: true },
  /** Unsent reply bytes above which the server stops reading from that client (default 1 MiB). */
  outputHighWaterMark: { default: 1024 * 1024, unit: "bytes", zeroIsOff: false },
  /**
   * Unsent reply bytes past which the client is disconnected, with a log line (default 64 MiB,
   * 0 = no limit): a client that never reads, or a subscriber that cannot keep up.
   */
  maxOutputBuffer: { default: 64 * 1024 * 1024, unit: "bytes", zeroIsOff: true },
  /**
   * With `proxyProtocol` on: milliseconds a new socket has to send its whole PROXY header
   * (default 5000; 0 = forever); then it is closed, logged and counted. A proxy sends the
   * header as soon as it connects, so only a stalled or hostile peer ever waits this long.
   */
  proxyHeaderTimeout: { default: 5000, unit: "ms", zeroIsOff: true },
} as const satisfies Record<string, LimitSpec>;

export type LimitName = keyof typeof LIMITS;

/** The limits as options: each may be left out (or undefined) for its default. */
export type LimitOptions = { [K in keyof typeof LIMITS]?: number | undefined };

/** Every limit with its value, checked. */
export type Limits = { readonly [K in keyof typeof LIMITS]: number };

/** What the request decoder enforces. */
export type DecoderLimits = Pick<Limits, "maxLineLength" | "maxBulkLength" | "maxArgs">;

/** What the connection statechart enforces itself (the header's size and time). */
export type HeaderLimits = Pick<Limits, "maxHeaderSize" | "headerTimeout">;

/** The values of `options`, defaults filled in; a bad value is a RetopyError at startup. */
export function checkLimits(options: LimitOptions): Limits {
  const limits = {} as Record<LimitName, number>;
  for (const name of Object.keys(LIMITS) as LimitName[]) {
    const spec: LimitSpec = LIMITS[name];
    const value = options[name] ?? spec.default;
    const max = spec.unit === "ms" ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
      const what = spec.unit === "ms" ? `a whole number of milliseconds from 0 to ${MAX_TIMER_MS}` : `a non-negative integer (${spec.unit})`;
      throw new RetopyError("RETOPY_INVALID_OPTION", `${name} must be ${what}, not '${String(value)}'`);
    }
    limits[name] = value;
  }
  return limits;
}
