/**
 * `retopy connect`: picks the mode (one command, stdin's lines, or the interactive shell on a
 * terminal) and returns the exit code: 0, 1 for an error reply or a failed connection.
 * Usage errors are thrown as ConnectUsageError for the CLI to report (exit code 2).
 */
import { parseConnectArgs } from "./args.js";
import { runLines, runOnce } from "./batch.js";
import { runRepl } from "./repl.js";
import { ConnectFailure, openClient } from "./session.js";

export { ConnectUsageError } from "./args.js";

export async function runConnect(argv: readonly string[]): Promise<number> {
  const args = parseConnectArgs(argv);
  let client;
  try {
    client = await openClient(args);
  } catch (error) {
    if (!(error instanceof ConnectFailure)) throw error;
    process.stderr.write(`retopy: ${error.message}\n`);
    return 1;
  }
  try {
    if (args.command.length > 0) return await runOnce(client, args.command);
    if (!process.stdin.isTTY) return await runLines(client, process.stdin);
    const label = args.host.includes(":") ? `[${args.host}]:${args.port}` : `${args.host}:${args.port}`;
    return await runRepl(client, label);
  } catch (error) {
    if (!(error instanceof ConnectFailure)) throw error;
    process.stderr.write(`retopy: ${error.message}\n`);
    return 1;
  } finally {
    await client.close(1000);
  }
}
