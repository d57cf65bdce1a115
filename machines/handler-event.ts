/**
 * The route from a connection to the server's handler actor, described once: the event and
 * the system id the supervisor registers the handler actor under.
 */
import type { ParsedItem } from "../src/protocol/wire.js";

/** What the handler actor receives: one read's batch and the connection it came from. */
export interface HandlerEvent {
  readonly type: "COMMANDS";
  readonly connectionId: string;
  readonly items: readonly ParsedItem[];
}

/** The system id the server's handler actor is registered under. */
export const HANDLER_SYSTEM_ID = "handler";
