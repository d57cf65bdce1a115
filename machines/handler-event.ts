/**
 * The route from a connection to the server's handler actor: the one event it takes, and
 * the system id the supervisor registers the handler actor under.
 */
import type { ActorLogic, Snapshot } from "xstate";
import type { ParsedItem } from "../src/protocol/wire.js";

/** Where a batch's commands are run, in order: the sending connection's own command queue. */
export interface CommandQueue {
  enqueue(items: readonly ParsedItem[]): void;
}

/**
 * What the handler actor receives: one read's batch, and the queue of the connection it came
 * from. The batch carries its destination, so the route needs no lookup and nothing flows
 * back to the sender: replies go from the queue to the socket.
 */
export interface HandlerEvent {
  readonly type: "COMMANDS";
  /** For logs and the inspector, which never sees the queue. */
  readonly connectionId: string;
  readonly queue: CommandQueue;
  readonly items: readonly ParsedItem[];
}

/** The system id the server's handler actor is registered under. */
export const HANDLER_SYSTEM_ID = "handler";

/** Any logic that can be the handler actor: the statechart, or the server's plain logic. */
export type HandlerLogic = ActorLogic<Snapshot<unknown>, HandlerEvent>;
