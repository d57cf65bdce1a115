/**
 * `retopy serve <module>` as a real child process (`node dist/src/cli.js`, so `npm run build`
 * first; `npm test` does), for what only a separate process can show: how it exits on a
 * signal, and that a fault does not kill it. The port comes from the "listening" log line,
 * as in test/cli.test.ts; every wait is bounded and `killAll` ends whatever is left.
 */
import { CliProcess } from "../cli-process.js";

export { CLI, type Exit } from "../cli-process.js";

/** `retopy serve <module> --port 0 --host 127.0.0.1 [args]`. */
export class ChildServer extends CliProcess {
  constructor(module: string, args: readonly string[] = [], options: { openFileLimit?: number } = {}) {
    super(["serve", module, "--port", "0", "--host", "127.0.0.1", ...args], options);
  }
}

/** Children started by a suite, killed by its `after`/`afterEach` hook. */
export class ChildServers {
  readonly #started: ChildServer[] = [];

  start(module: string, args?: readonly string[], options?: { openFileLimit?: number }): ChildServer {
    const server = new ChildServer(module, args, options);
    this.#started.push(server);
    return server;
  }

  killAll(): void {
    for (const server of this.#started.splice(0)) server.kill();
  }
}
