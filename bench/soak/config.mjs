// The soak's settings, read once from the environment when this module loads (a bad one
// exits with code 2 before anything starts), and the constants the modules share.
//
// Environment:
//   SOAK_SECONDS=60                  how long the clients run (each session is bounded too)
//   SOAK_CLIENTS=50                  concurrent client loops
//   SOAK_SEED=<random>               seed of every client's random choices (printed; reuse it to
//                                    replay the same command streams, timing aside)
//   SOAK_MAX_CONNECTIONS=200         server: maxConnections
//   SOAK_IDLE_TIMEOUT_MS=5000        server: idleTimeout (0: no idle probe)
//   SOAK_OUTPUT_HIGH_WATER_MARK=1048576   server: outputHighWaterMark (bytes)
//   SOAK_MAX_OUTPUT_BUFFER=16777216  server: maxOutputBuffer (bytes)
//   SOAK_BURST_EXTRA=50              connections past the limit in each burst (0: no bursts)
//   SOAK_BURST_EVERY=15              seconds between bursts
//   SOAK_FLOOD_MB=32                 request megabytes a never-reading client may send per
//                                    cycle (0: no flood); a cycle every 12 s from 5 s
//   SOAK_SAMPLE_SECONDS=5            server RSS sampling interval
//   SOAK_REPLY_TIMEOUT_MS=10000      how long a batch may wait for its replies
//   SOAK_SETTLE_SECONDS=12           idle time before the last RSS reading (V8 hands memory
//                                    back to the OS only after its memory reducer has run)
//   SOAK_SESSIONS=resp,text,...      which client sessions to mix (default: all of them, with
//                                    the weights of ALL_SESSIONS below): to reproduce one kind
import { fileURLToPath } from "node:url";

export const HOST = "127.0.0.1";
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const RESULTS = fileURLToPath(new URL("../soak-results.md", import.meta.url));

/** Stops the soak before (or instead of) a report: 1 for a broken run, 2 for a bad setting. */
export function fail(message, code = 1) {
  process.stderr.write(`soak: ${message}\n`);
  process.exit(code);
}

function envNumber(name, fallback, { min = 0, integer = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    fail(`${name}=${raw} is not a${integer ? "n integer" : " number"} >= ${min}`, 2);
  }
  return value;
}

export const SECONDS = envNumber("SOAK_SECONDS", 60, { min: 1 });
export const CLIENTS = envNumber("SOAK_CLIENTS", 50, { min: 1, integer: true });
export const SEED = envNumber("SOAK_SEED", Math.floor(Math.random() * 2 ** 31), { integer: true });
export const MAX_CONNECTIONS = envNumber("SOAK_MAX_CONNECTIONS", 200, { min: 1, integer: true });
export const IDLE_TIMEOUT_MS = envNumber("SOAK_IDLE_TIMEOUT_MS", 5000, { integer: true });
export const OUTPUT_HIGH_WATER_MARK = envNumber("SOAK_OUTPUT_HIGH_WATER_MARK", 1024 * 1024, { integer: true });
export const MAX_OUTPUT_BUFFER = envNumber("SOAK_MAX_OUTPUT_BUFFER", 16 * 1024 * 1024, { integer: true });
export const BURST_EXTRA = envNumber("SOAK_BURST_EXTRA", 50, { integer: true });
export const BURST_EVERY_MS = envNumber("SOAK_BURST_EVERY", 15, { min: 1 }) * 1000;
export const FLOOD_BYTES = envNumber("SOAK_FLOOD_MB", 32) * 1024 * 1024;
export const SAMPLE_MS = envNumber("SOAK_SAMPLE_SECONDS", 5, { min: 0.5 }) * 1000;
export const REPLY_TIMEOUT_MS = envNumber("SOAK_REPLY_TIMEOUT_MS", 10_000, { min: 100 });
export const SETTLE_MS = envNumber("SOAK_SETTLE_SECONDS", 12) * 1000;
if (CLIENTS + 10 > MAX_CONNECTIONS) fail(`SOAK_CLIENTS (${CLIENTS}) must stay well below SOAK_MAX_CONNECTIONS (${MAX_CONNECTIONS})`, 2);

/** Keys per client generation: few enough that gets, incrs and dels often hit. */
export const KEYS = 12;
export const REFUSAL = "-ERR max number of clients reached\r\n";
/** A session stops starting batches after this many, so connections churn. */
export const MAX_BATCHES = 12;
export const MAX_BATCH = 50;
/** Upper bound of the wind-down after SOAK_SECONDS: every session is bounded well below it. */
export const WIND_DOWN_MS = REPLY_TIMEOUT_MS * 3 + 20_000;

/** Every client session and its weight in the mix (the report lists them in this order). */
export const ALL_SESSIONS = {
  resp: 34,
  text: 24,
  slow: 5,
  abort: 12,
  "garbage-text": 6,
  "malformed-resp": 6,
  "garbage-resp": 5,
  "long-line": 4,
  "huge-multibulk": 3,
};

/** The sessions SOAK_SESSIONS selects, with their weights. */
export const SESSIONS = Object.fromEntries(
  (process.env.SOAK_SESSIONS || Object.keys(ALL_SESSIONS).join(","))
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean)
    .map((name) => {
      if (!(name in ALL_SESSIONS)) fail(`SOAK_SESSIONS: unknown session '${name}' (known: ${Object.keys(ALL_SESSIONS).join(", ")})`, 2);
      return [name, ALL_SESSIONS[name]];
    }),
);
if (Object.keys(SESSIONS).length === 0) fail("SOAK_SESSIONS selects no session", 2);
