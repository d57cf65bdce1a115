/**
 * The `retopy` CLI as a real child process (`node dist/src/cli.js`, so `npm run build`
 * first; `npm test` does), its output collected as it arrives. Every wait is bounded, and
 * `kill()` ends a child a failing test left behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CLI = join(ROOT, "dist", "src", "cli.js");

export type LogLine = Record<string, unknown> & { msg?: string };

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** This process's environment without the variables the CLI reads. */
export function cliFreeEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ["PORT", "HOST", "RETOPY_LOG_LEVEL", "RETOPY_LOG_FORMAT", "NO_COLOR", "REDIS_URL"]) delete env[name];
  return env;
}

export class CliProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly #exited: Promise<Exit>;

  /**
   * `openFileLimit`: run it under `ulimit -n` of that many descriptors (through bash).
   * `env`: variables added to this process's environment, from which the CLI's own
   * (PORT, HOST, RETOPY_LOG_*, NO_COLOR, REDIS_URL) are removed first, so a developer's shell cannot
   * change what a test sees.
   */
  constructor(args: readonly string[], options: { openFileLimit?: number; env?: Readonly<Record<string, string>> } = {}) {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    const command = [process.execPath, CLI, ...args];
    const env = { ...cliFreeEnv(), ...options.env };
    this.child =
      options.openFileLimit === undefined
        ? spawn(command[0]!, command.slice(1), { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
        : spawn("bash", ["-c", `ulimit -n ${options.openFileLimit} && exec "$@"`, "bash", ...command], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    // "close", not "exit": the output streams are complete by then.
    this.#exited = once(this.child, "close").then(([code, signal]) => ({ code, signal }) as Exit);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * pino's JSON lines from stdout. A complete line that is not JSON fails the parse, on
   * purpose (stdout carries only log lines); a last line still being written is skipped.
   */
  get logs(): LogLine[] {
    const complete = this.stdout.slice(0, this.stdout.lastIndexOf("\n") + 1);
    return complete
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as LogLine);
  }

  /** Resolves with the first log line whose msg is `msg`; rejects if the child exits or time runs out. */
  waitForLog(msg: string, timeoutMs = 10_000): Promise<LogLine> {
    return this.waitFor(() => this.logs.find((line) => line.msg === msg), `log '${msg}'`, timeoutMs);
  }

  async waitForStderr(text: string, timeoutMs = 5000): Promise<void> {
    await this.waitFor(() => this.stderr.includes(text) || undefined, `stderr '${text}'`, timeoutMs);
  }

  /** The port from the "listening" log line. */
  async port(timeoutMs = 15_000): Promise<number> {
    const line = await this.waitForLog("listening", timeoutMs);
    if (typeof line.port !== "number") throw new Error(`the listening line has no port: ${JSON.stringify(line)}`);
    return line.port;
  }

  /** Polls `probe` until it gives a value; rejects if the child exits first or time runs out. */
  async waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = probe();
      if (found !== undefined) return found;
      if (!this.running) throw new Error(`exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}; stderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stdout: ${this.stdout}; stderr: ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Resolves with the exit code and signal, or rejects after `timeoutMs`. */
  async exit(timeoutMs = 10_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.#exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.running) this.child.kill("SIGKILL");
  }
}
