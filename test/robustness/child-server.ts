/**
 * `retopy serve <module>` as a real child process (`node dist/src/cli.js`, so `npm run build`
 * first; `npm test` does), for what only a separate process can show: how it exits on a
 * signal, and that a fault does not kill it. The port comes from the "listening" log line,
 * as in test/cli.test.ts; every wait is bounded and `killAll` ends whatever is left.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CLI = join(ROOT, "dist", "src", "cli.js");

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type LogLine = Record<string, unknown> & { msg?: string };

export class ChildServer {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly #exited: Promise<Exit>;

  constructor(module: string, args: readonly string[] = []) {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    this.child = spawn(process.execPath, [CLI, "serve", module, "--port", "0", "--host", "127.0.0.1", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.#exited = once(this.child, "close").then(([code, signal]) => ({ code, signal }) as Exit);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** pino's JSON lines; anything else on stdout is skipped. */
  get logs(): LogLine[] {
    const lines: LogLine[] = [];
    for (const line of this.stdout.split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        // a line still being written
      }
    }
    return lines;
  }

  /** Resolves with the port from the "listening" log line. */
  async port(timeoutMs = 15_000): Promise<number> {
    const line = await this.waitFor(() => this.logs.find((entry) => entry.msg === "listening"), "the listening log line", timeoutMs);
    return line.port as number;
  }

  async waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = probe();
      if (found !== undefined) return found;
      if (!this.running) throw new Error(`exited before ${what}; stderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stdout: ${this.stdout}; stderr: ${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Resolves with how the child exited; rejects after `timeoutMs`. */
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

/** Children started by a suite, killed by its `after`/`afterEach` hook. */
export class ChildServers {
  readonly #started: ChildServer[] = [];

  start(module: string, args?: readonly string[]): ChildServer {
    const server = new ChildServer(module, args);
    this.#started.push(server);
    return server;
  }

  killAll(): void {
    for (const server of this.#started.splice(0)) server.kill();
  }
}
