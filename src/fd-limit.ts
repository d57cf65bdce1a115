/**
 * How many connections the process's open-file limit leaves room for. Past that limit the
 * kernel refuses `accept()`, and libuv then accepts and closes each waiting client itself
 * (its EMFILE trick) without telling Node: the clients see a reset and the log says nothing.
 * So, as Redis lowers `maxclients` to fit `ulimit -n`, the server caps its connections below
 * the limit, and a client past it gets `-ERR max number of clients reached` instead.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Descriptors kept free for everything that is not a client: logs, files, DNS, a refusal's socket (Redis keeps 32). */
export const RESERVED_FDS = 32;

/** The soft limit on open files, from /proc (Linux); null where it cannot be read. */
export function openFileLimit(): number | null {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    return soft === undefined || soft === "unlimited" ? null : Number(soft) || null;
  } catch {
    return null;
  }
}

/** Descriptors the process has open now; null where it cannot be told. */
export function openFileCount(): number | null {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
}

/**
 * The most connections the open-file limit allows now (each costs one descriptor), or null
 * when the limit cannot be read or does not bind.
 */
export function connectionsTheFdLimitAllows(): number | null {
  const limit = openFileLimit();
  const open = openFileCount();
  if (limit === null || open === null) return null;
  return Math.max(1, limit - open - RESERVED_FDS);
}
