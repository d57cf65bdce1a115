/**
 * The shell without a terminal: one command from the command line, or one command per line
 * of stdin (split like the text protocol, so the quoting is redis-cli's). Replies go to
 * stdout, error replies to stderr; the exit code is 1 if any reply was an error.
 */
import { once } from "node:events";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { RetopyClient } from "../client/index.js";
import { splitArgs, UNBALANCED_QUOTES } from "../protocol/split-args.js";
import { formatPush } from "./format.js";
import { type Outcome, runCommand, STREAMING } from "./session.js";

function print(outcome: Outcome): void {
  if (outcome.text === "") return;
  (outcome.error ? process.stderr : process.stdout).write(`${outcome.text}\n`);
}

function printPushes(client: RetopyClient): void {
  client.on("push", (values) => process.stdout.write(`${formatPush(values)}\n`));
}

/** `retopy connect PORT cmd args...`: the exit code. SUBSCRIBE and friends stay, printing messages, until the connection ends. */
export async function runOnce(client: RetopyClient, words: readonly string[]): Promise<number> {
  printPushes(client);
  const outcome = await runCommand(client, words);
  print(outcome);
  if (!outcome.error && STREAMING.has(words[0]!.toLowerCase())) {
    await once(client, "close");
    return 0;
  }
  return outcome.error ? 1 : 0;
}

/** One command per line of `input`, in order, each answered before the next is sent. */
export async function runLines(client: RetopyClient, input: Readable): Promise<number> {
  printPushes(client);
  let failed = false;
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  for await (const line of lines) {
    const words = splitArgs(Buffer.from(line, "utf8"));
    if (words === null) {
      print({ text: `(error) ERR ${UNBALANCED_QUOTES}`, error: true });
      failed = true;
      continue;
    }
    const name = words[0]?.toLowerCase();
    if (name === undefined) continue;
    if (name === "exit") break;
    const outcome = await runCommand(client, words);
    print(outcome);
    if (outcome.error) failed = true;
    if (name === "quit") break;
  }
  lines.close();
  return failed ? 1 : 0;
}
