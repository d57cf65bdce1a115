/**
 * The interactive shell on a terminal: a node:readline prompt `host:port> ` with history,
 * tab completion of command names and a usage hint. readline has no ghost text, so the
 * hint is drawn dimmed to the right of the cursor (cursor saved and restored around it)
 * once the line ends with a space after a known command, and erased on the next key, as
 * redis-cli's hints look. Pushes are printed above the prompt as they arrive.
 */
import { once } from "node:events";
import { createInterface, type Interface } from "node:readline";
import type { RetopyClient } from "../client/index.js";
import { splitArgs, UNBALANCED_QUOTES } from "../protocol/split-args.js";
import { CommandTable } from "./command-table.js";
import { formatPush } from "./format.js";
import { historyPath, HISTORY_SIZE, isSecret, loadHistory, saveHistory } from "./history.js";
import { ConnectFailure, runCommand } from "./session.js";

const DIM = "\x1b[2m";
const RESET = "\x1b[0m";
const SAVE_CURSOR = "\x1b7";
const RESTORE_CURSOR = "\x1b8";
const CLEAR_TO_END = "\x1b[K";

/** readline's fields the hint needs; public in practice, missing from the typings of older Nodes. */
type LineState = Interface & { line: string; cursor: number; history: string[] };

function drawHint(rl: LineState, table: CommandTable): void {
  // Only at the end of the line: elsewhere readline redraws the line itself, and clearing would eat text.
  if (rl.cursor !== rl.line.length) return;
  const hint = table.hint(rl.line);
  if (hint) process.stdout.write(`${SAVE_CURSOR}${DIM}${hint}${RESET}${RESTORE_CURSOR}`);
}

/** Runs the shell until quit/exit/Ctrl-D/Ctrl-C (0) or a lost connection (1). */
export async function runRepl(client: RetopyClient, label: string): Promise<number> {
  const table = await CommandTable.load(client);
  const file = historyPath();
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    prompt: `${label}> `,
    completer: (line: string) => table.complete(line),
    history: loadHistory(file),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: false,
  }) as LineState;
  let busy = false;
  // The hint is erased before readline sees a key (the cursor is still where the hint was
  // drawn) and redrawn after readline's own handler, registered first, has updated the line.
  const eraseHint = () => {
    if (!busy && rl.cursor === rl.line.length) process.stdout.write(CLEAR_TO_END);
  };
  const onKeypress = () => {
    if (!busy) drawHint(rl, table);
  };
  process.stdin.prependListener("keypress", eraseHint);
  process.stdin.on("keypress", onKeypress);
  rl.on("SIGINT", () => rl.close());

  let exitCode = 0;
  const onPush = (values: Parameters<typeof formatPush>[0]) => {
    // Above the prompt: clear the line being typed, print, then redraw it.
    process.stdout.write(`\r${CLEAR_TO_END}${formatPush(values)}\n`);
    if (!busy) rl.prompt(true);
  };
  client.on("push", onPush);
  const onClose = () => {
    process.stdout.write(`\r${CLEAR_TO_END}(error) connection closed by the server\n`);
    exitCode = 1;
    if (!rlClosed) rl.close();
  };
  client.on("close", onClose);
  let rlClosed = false;
  const closed = once(rl, "close").then(() => (rlClosed = true));

  // Lines typed (or pasted) while a command runs wait their turn, so replies keep their order.
  const queue: string[] = [];
  const drain = async () => {
    busy = true;
    for (let line = queue.shift(); line !== undefined; line = queue.shift()) {
      if (!(await handleLine(line))) {
        queue.length = 0;
        if (!rlClosed) rl.close();
        return;
      }
    }
    busy = false;
    if (!rlClosed) rl.prompt();
  };
  rl.on("line", (line: string) => {
    queue.push(line);
    if (!busy) void drain();
  });

  async function handleLine(line: string): Promise<boolean> {
    if (isSecret(line)) rl.history = rl.history.filter((entry) => entry !== line);
    saveHistory(file, rl.history);
    const words = splitArgs(Buffer.from(line, "utf8"));
    if (words === null) {
      process.stdout.write(`(error) ERR ${UNBALANCED_QUOTES}\n`);
      return true;
    }
    const name = words[0]?.toLowerCase();
    if (name === undefined) return true;
    if (name === "exit" || name === "quit") return false;
    try {
      const outcome = await runCommand(client, words);
      process.stdout.write(`${outcome.text}\n`);
      return true;
    } catch (error) {
      if (!(error instanceof ConnectFailure)) throw error;
      process.stdout.write(`(error) ${error.message}\n`);
      exitCode = 1;
      return false;
    }
  }

  rl.prompt();
  await closed;
  process.stdin.off("keypress", onKeypress);
  process.stdin.off("keypress", eraseHint);
  client.off("close", onClose);
  client.off("push", onPush);
  saveHistory(file, rl.history);
  return exitCode;
}
