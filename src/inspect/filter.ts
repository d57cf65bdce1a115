import type { InspectionEvent } from "xstate";
import type { ResolvedInspectOptions } from "./options.js";

/**
 * Decides which of XState's inspection events go to the inspector, before anything is
 * serialized: every event dropped here costs one function call, while one let through costs
 * a timer, a JSON round trip and a WebSocket message.
 *
 * Let through: `@xstate.actor`, `@xstate.event` and `@xstate.snapshot`, the three the Stately
 * inspector draws (microsteps and actions are dropped). The handler actor's per-read
 * `COMMANDS` traffic is the one high-volume stream: none by default, all, or at most N a second.
 */
export class InspectionFilter {
  readonly #perSecond: number;
  readonly #user: ((event: InspectionEvent) => boolean) | null;
  #windowStart = 0;
  #inWindow = 0;
  /** The last COMMANDS event decided on: its `@xstate.event` and `@xstate.snapshot` share it. */
  #lastCommands: object | null = null;
  #lastAllowed = false;

  constructor(options: Pick<ResolvedInspectOptions, "commandsPerSecond" | "filter">) {
    this.#perSecond = options.commandsPerSecond;
    this.#user = options.filter;
  }

  accepts(event: InspectionEvent): boolean {
    switch (event.type) {
      case "@xstate.actor":
        break;
      case "@xstate.event":
      case "@xstate.snapshot":
        if (event.event.type === "COMMANDS" && !this.#commandsAllowed(event.event)) return false;
        break;
      default:
        return false;
    }
    return this.#user === null || this.#user(event) === true;
  }

  #commandsAllowed(commands: object): boolean {
    if (this.#perSecond === 0) return false;
    if (this.#perSecond === Infinity) return true;
    // Decide once per COMMANDS event, so a sampled event comes with its snapshot.
    if (commands === this.#lastCommands) return this.#lastAllowed;
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    this.#lastCommands = commands;
    this.#lastAllowed = this.#inWindow < this.#perSecond;
    if (this.#lastAllowed) this.#inWindow++;
    return this.#lastAllowed;
  }
}
