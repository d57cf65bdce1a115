/**
 * Drives the real `telnet` program (Debian's inetutils-telnet, installed by .ci/run) the way
 * a person would: start it against a local port, type keystrokes one group at a time, and
 * collect what it printed. Shared by every suite that needs the real client.
 */
import { spawn, spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

export const hasTelnet = spawnSync("sh", ["-c", "command -v telnet"]).status === 0;
/** A test's `skip` option: in CI the tool must be there, so a missing telnet is a failure there, not a skip. */
export const skipWithoutTelnet = !hasTelnet && !process.env.CI ? "telnet is not installed (apt-get install telnet)" : false;

export interface TelnetSessionOptions {
  /** Pause after each keystroke group, so telnet reads and sends them one at a time. */
  pauseMs?: number;
  /** Wait before the first keystroke, to let telnet connect. */
  connectMs?: number;
  /** Kill telnet if it has not exited by then (the last keystrokes should make the server close). */
  timeoutMs?: number;
}

/**
 * Types each entry of `keystrokes` verbatim into telnet on 127.0.0.1:`port` (include the
 * `\n`, or telnet's escape character `\x1d`, yourself) and resolves with everything telnet
 * printed once it exits.
 */
export async function telnetSession(port: number, keystrokes: readonly string[], options: TelnetSessionOptions = {}): Promise<string> {
  const { pauseMs = 50, connectMs = 300, timeoutMs = 10_000 } = options;
  const child = spawn("telnet", ["127.0.0.1", String(port)], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const guard = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await sleep(connectMs);
  for (const keys of keystrokes) {
    child.stdin.write(keys);
    await sleep(pauseMs);
  }
  await exited;
  clearTimeout(guard);
  return output;
}
