/**
 * The shell's history file: `~/.retopy_history`, or `RETOPY_HISTORY` (empty: none). One
 * line per command, oldest first, at most HISTORY_SIZE lines, readable by its owner only
 * (lines may name keys and values). Login commands are never written, so a password typed
 * as `AUTH` does not land on disk.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const HISTORY_SIZE = 1000;

/** The file to use, or undefined when history is off. */
export function historyPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const configured = env.RETOPY_HISTORY;
  if (configured !== undefined) return configured === "" ? undefined : configured;
  return join(homedir(), ".retopy_history");
}

/** Lines that hold a password: AUTH, and HELLO with AUTH. */
export function isSecret(line: string): boolean {
  return /^\s*auth(\s|$)/i.test(line) || /^\s*hello\s.*\bauth\b/i.test(line);
}

/** readline's `history` option: newest first. A missing or unreadable file is an empty history. */
export function loadHistory(path: string | undefined): string[] {
  if (path === undefined) return [];
  try {
    const lines = readFileSync(path, "utf8").split("\n").filter((line) => line.trim() !== "");
    return lines.slice(-HISTORY_SIZE).reverse();
  } catch {
    return [];
  }
}

/** Writes readline's history (newest first) back, oldest first; a failure to write only loses history. */
export function saveHistory(path: string | undefined, newestFirst: readonly string[]): void {
  if (path === undefined) return;
  const lines = newestFirst.filter((line) => !isSecret(line)).slice(0, HISTORY_SIZE).reverse();
  try {
    writeFileSync(path, lines.length > 0 ? `${lines.join("\n")}\n` : "", { mode: 0o600 });
  } catch {
    // A read-only home must not stop the shell.
  }
}
