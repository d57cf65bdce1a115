/**
 * What happens to a handler's faults that no command awaits: a rejected promise left behind,
 * a timer callback that throws. Node's defaults end the process at once, without a log line
 * and without the replies other clients are owed. The library changes nothing process-wide
 * by itself; `handleProcessFaults(server)` (which `retopy serve` calls) installs this policy:
 *
 * - an unhandled rejection is logged at error level with the `connection` and `command` it
 *   came from, and the server goes on: the command that left it has already replied;
 * - an uncaught exception is logged the same way at fatal level; then the server drains
 *   (`close()`: running commands finish and their replies are delivered) and the process
 *   exits non-zero, so systemd or a cluster primary starts a fresh one. State after a throw
 *   nobody caught cannot be trusted, so the process does not carry on.
 *
 * The context comes from an AsyncLocalStorage entered around each command, only once the
 * policy is installed: a store costs every promise of the process a little, which a server
 * that did not ask for it should not pay.
 */
import { currentCommandContext, trackCommands } from "./command-context.js";
import type { RetopyServer } from "./server.js";

export interface ProcessFaultOptions {
  /** Milliseconds the drain after an uncaught exception may take before connections are cut (default 5000). */
  shutdownTimeout?: number | undefined;
  /** Exit code after an uncaught exception (default 1). */
  exitCode?: number | undefined;
}

/**
 * Installs the policy of the module comment for `server` and returns a function that removes
 * it again. `retopy serve` calls it; a program that embeds a server calls it once, after
 * making the server, if it wants the same.
 */
export function handleProcessFaults(server: RetopyServer, options: ProcessFaultOptions = {}): () => void {
  const { logger } = server;
  const log = (level: "error" | "fatal", error: unknown, msg: string) => {
    const store = currentCommandContext();
    // Named fields, not a spread: the command's name is a getter, worked out only here.
    const context = store ? { connection: store.connection, command: store.command } : {};
    try {
      logger[level]({ err: error, ...context }, msg);
    } catch {
      logger[level](context, `${msg} (with a value that cannot be logged)`);
    }
  };
  let exiting = false;
  const onRejection = (reason: unknown) => log("error", reason, "unhandled rejection");
  const onException = (error: unknown) => {
    log("fatal", error, exiting ? "uncaught exception while draining" : "uncaught exception; draining, then exiting");
    if (exiting) return;
    exiting = true;
    const exit = () => process.exit(options.exitCode ?? 1);
    const timeout = options.shutdownTimeout ?? 5000;
    server.close({ timeout }).then(exit, exit);
    // The throw may have broken what close() relies on: exit anyway a second after its timeout.
    setTimeout(exit, timeout + 1000).unref();
  };
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  trackCommands(true);
  let installed = true;
  return () => {
    if (!installed) return;
    installed = false;
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
    trackCommands(false);
  };
}
