// The soak's clock: when it started, when the clients stop (main moves the deadline once the
// server is up), the burst window in which refusals are expected, and timestamped progress.
import { SECONDS } from "./config.mjs";

/** Shared by every module; only main sets `deadline`, only a burst sets `burstUntil`. */
export const clock = {
  startedAt: Date.now(),
  deadline: Date.now() + SECONDS * 1000,
  /** Inside a burst (and a moment after it) the server may be full: refusals are expected there. */
  burstUntil: 0,
};

export const elapsedSeconds = () => Math.round((Date.now() - clock.startedAt) / 100) / 10;
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const nextTick = () => new Promise((resolve) => setImmediate(resolve));
export const inBurst = () => Date.now() < clock.burstUntil;

export function progress(message) {
  process.stderr.write(`soak ${elapsedSeconds().toFixed(1).padStart(5)}s: ${message}\n`);
}
