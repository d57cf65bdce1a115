/**
 * A real HAProxy (`haproxy -f <cfg> -db`) as a child process, for tests that put it in front
 * of retopy: started with the environment its config expands, waited for until its
 * frontend accepts connections, its log (stdout, `log stdout` in the config) collected,
 * its stats socket read, and killed by `stop()` (call it in `after`, even on failure).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";

/** Installed on CI by .ci/run (a missing HAProxy fails the tests that need it, it does not skip them). */
export const HAPROXY = "/usr/sbin/haproxy";

export class HaproxyProcess {
  readonly child: ChildProcess;
  /** Everything it printed: its log lines and its own notices and alerts. */
  output = "";

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (this.output += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.output += chunk));
  }

  /**
   * Checks `config` with `haproxy -c` (a bad config fails here, with HAProxy's reason), starts
   * it, and resolves once `frontendPort` on 127.0.0.1 accepts a TCP connection.
   */
  static async start(config: string, env: Readonly<Record<string, string>>, frontendPort: number, timeoutMs = 10_000): Promise<HaproxyProcess> {
    const fullEnv = { ...process.env, ...env };
    const check = spawnSync(HAPROXY, ["-c", "-f", config], { env: fullEnv, encoding: "utf8", timeout: 10_000 });
    if (check.status !== 0) throw new Error(`haproxy -c failed:\n${check.stdout}${check.stderr}`);
    const haproxy = new HaproxyProcess(spawn(HAPROXY, ["-f", config, "-db"], { env: fullEnv, stdio: ["ignore", "pipe", "pipe"] }));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (haproxy.child.exitCode !== null) throw new Error(`haproxy exited (${haproxy.child.exitCode}):\n${haproxy.output}`);
      if (await accepts(frontendPort)) return haproxy;
      if (Date.now() > deadline) {
        haproxy.stop();
        throw new Error(`haproxy did not listen on ${frontendPort} within ${timeoutMs} ms:\n${haproxy.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Resolves once `pattern` is in the output; rejects after `timeoutMs` (with the output). */
  async waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      if (Date.now() > deadline) throw new Error(`haproxy never printed ${pattern}:\n${this.output}`);
      if (this.child.exitCode !== null) throw new Error(`haproxy exited before printing ${pattern}:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** `show stat` on the stats socket at `path`: each server's status (UP, DOWN, ...) by `backend/server`. */
  static async serverStatus(path: string): Promise<Record<string, string>> {
    const socket = connect(path);
    let text = "";
    socket.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
    socket.write("show stat\n");
    await once(socket, "close");
    const [head = "", ...rows] = text.split("\n");
    const columns = head.replace(/^# /, "").split(",");
    const status = columns.indexOf("status");
    const result: Record<string, string> = {};
    for (const row of rows) {
      const fields = row.split(",");
      if (fields.length > status && fields[1] !== "FRONTEND" && fields[1] !== "BACKEND") result[`${fields[0]}/${fields[1]}`] = fields[status]!;
    }
    return result;
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
