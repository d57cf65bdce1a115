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

/**
 * A telnet session kept open, typed into line by line while other sessions run beside it (a
 * client that moves between servers). Everything telnet prints is in `output`.
 */
export class TelnetProcess {
  readonly #child;
  output = "";
  readonly #exited: Promise<void>;

  constructor(port: number) {
    this.#child = spawn("telnet", ["127.0.0.1", String(port)], { stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stdout.setEncoding("utf8").on("data", (chunk: string) => (this.output += chunk));
    this.#exited = new Promise((resolve) => this.#child.on("close", () => resolve()));
  }

  /** What telnet printed after its "Escape character" banner: the server's replies. */
  get replies(): string {
    const banner = "Escape character is '^]'.\n";
    const at = this.output.indexOf(banner);
    return at === -1 ? "" : this.output.slice(at + banner.length);
  }

  /** Resolves once telnet is connected (its banner printed). */
  async connected(timeoutMs = 5000): Promise<void> {
    await this.#until(() => this.output.includes("Escape character is '^]'.\n"), "telnet to connect", timeoutMs);
  }

  /** Types `line` and Enter; with `reply: true`, resolves with the one line it answers (without its newline). */
  async type(line: string, reply = false, timeoutMs = 5000): Promise<string> {
    const before = this.replies.length;
    this.#child.stdin.write(`${line}\n`);
    if (!reply) return "";
    await this.#until(() => this.replies.indexOf("\n", before) !== -1, `the reply to '${line}'`, timeoutMs);
    return this.replies.slice(before, this.replies.indexOf("\n", before));
  }

  /** Resolves when telnet exits (the server closed); kills it after `timeoutMs`. */
  async exited(timeoutMs = 5000): Promise<void> {
    const guard = setTimeout(() => this.#child.kill("SIGKILL"), timeoutMs);
    await this.#exited;
    clearTimeout(guard);
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
  }

  async #until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; telnet printed: ${JSON.stringify(this.output)}`);
      await sleep(10);
    }
  }
}
