/**
 * Which command an async task belongs to, so a fault nobody awaited can name it
 * (`src/process-faults.ts` logs it). An AsyncLocalStorage is entered around each command,
 * only while a fault policy is installed: a store costs every promise of the process a
 * little, which a server that did not ask for it should not pay.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { asciiLowerCase, echoed } from "./client-text.js";

/** Where a fault came from: the connection's id and the command that was running. */
export interface CommandContext {
  readonly connection: string;
  readonly command: string;
}

const commandContext = new AsyncLocalStorage<CommandContext>();
/** How many servers have asked for the context (installs minus uninstalls). */
let tracking = 0;

/** @internal The policy (process-faults.ts) counts itself in and out; the runner only asks. */
export function trackCommands(on: boolean): void {
  tracking += on ? 1 : -1;
}

/** @internal True once a server tracks which command each async task belongs to. */
export function tracksCommands(): boolean {
  return tracking > 0;
}

/**
 * @internal The context as the runner enters it: the name is worked out only when a fault
 * is logged, so a pipeline of commands that leave nothing behind pays one small object each.
 */
export class LazyCommandContext implements CommandContext {
  readonly connection: string;
  readonly #first: string;
  #command: string | undefined;
  constructor(connection: string, first: string) {
    this.connection = connection;
    this.#first = first;
  }
  get command(): string {
    return (this.#command ??= asciiLowerCase(echoed(this.#first)));
  }
}

/** @internal The context of the code running now, if a command started it. */
export function currentCommandContext(): CommandContext | undefined {
  return commandContext.getStore();
}

/** @internal Runs `run` (a command) so that whatever it starts knows its context. */
export function runInCommandContext<T>(context: CommandContext, run: () => T): T {
  return commandContext.run(context, run);
}
