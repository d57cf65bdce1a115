import type { Logger } from "pino";
import type { Snapshot } from "xstate";
import type { HandlerLogic } from "../machines/handler-event.js";

/** The handler actor keeps no state of its own: each connection has its own command queue. */
type HandlerSnapshot = Snapshot<unknown>;

const RUNNING: HandlerSnapshot = Object.freeze({ status: "active", output: undefined, error: undefined });
const STOPPED: HandlerSnapshot = Object.freeze({ status: "stopped", output: undefined, error: undefined });

/**
 * The server's handler actor, invoked by the supervisor (system id `handler`): the route of
 * machines/handler.machine.ts as plain actor logic. Every connection's batches reach it as
 * one `COMMANDS` event per network read, and it hands each batch to the queue the event
 * names: that connection's command runner, which runs the commands strictly in order and
 * writes their replies in order, sync or async. Nothing is looked up and nothing goes back
 * to the sender.
 *
 * One handler actor per server rather than one per connection: an actor costs about 2 KB of
 * heap, and a connection's order lives in its runner anyway. Plain logic rather than the
 * machine or `fromCallback`, which measured slower on this per-read path. The runner turns
 * every failure into that command's error reply; the guard here only keeps a bug in the
 * glue from killing the one actor every connection relies on.
 */
export function createHandlerActor(logger: Logger): HandlerLogic {
  return {
    getInitialSnapshot: () => RUNNING,
    transition(snapshot, event) {
      const type = (event as { type: string }).type;
      if (type === "COMMANDS") {
        try {
          event.queue.enqueue(event.items);
        } catch (error) {
          logger.error({ err: error, connection: event.connectionId }, "handler actor failed on a batch");
        }
      }
      // Actors also receive XState's own `xstate.stop`, which is not in HandlerEvent. Any
      // other stray event is ignored: it must never stop the actor every connection relies on.
      else if (type === "xstate.stop") return STOPPED;
      return snapshot;
    },
    getPersistedSnapshot: (snapshot) => snapshot,
  };
}
