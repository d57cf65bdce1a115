import type { Logger } from "pino";
import type { HandlerEvent } from "../machines/handler-event.js";
import { type HandlerLogic, handlerLogic } from "../machines/supervisor.machine.js";

/** What the handler actor needs from a connection: somewhere to run its batch in order. */
export interface BatchTarget {
  _runBatch(items: HandlerEvent["items"]): void;
}

/**
 * The server's handler actor, invoked by the supervisor (system id `handler`). Every
 * connection's batches reach it as one `COMMANDS` event per network read, and it hands each
 * batch to that connection's command runner, which runs the commands strictly in order and
 * writes their replies in order, sync or async.
 *
 * One handler actor per server rather than one per connection: an actor costs about 2 KB of
 * heap, and a connection's order lives in its runner anyway. It is plain actor logic rather
 * than `fromCallback`, whose per-event WeakMap and listener-set lookups sat on the per-read
 * path. The runner turns every failure into that command's error reply; the guard here only
 * keeps a bug in the glue from killing the one actor every connection relies on.
 */
export function createHandlerActor(registry: ReadonlyMap<string, BatchTarget>, logger: Logger): HandlerLogic {
  return handlerLogic((event) => {
    try {
      registry.get(event.connectionId)?._runBatch(event.items);
    } catch (error) {
      logger.error({ err: error, connection: event.connectionId }, "handler actor failed on a batch");
    }
  });
}
