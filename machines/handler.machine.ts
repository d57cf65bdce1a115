import { setup } from "xstate";
import type { HandlerEvent } from "./handler-event.js";

/**
 * What the server's handler actor does, as a statechart: in `running` it takes every
 * `COMMANDS` batch and runs it (`runBatch`), and XState's own stop event ends it.
 *
 * For diagrams, the inspector and tests only. The real actor is plain actor logic
 * (`handlerLogic` in supervisor.machine.ts, given its work by src/handler-actor.ts) because
 * it sits on the per-read hot path, where a machine measured about 8% slower. A test checks
 * that the real logic accepts exactly the events declared here, so the two cannot drift.
 */

/** XState's stop event: every actor's logic receives it last, when the actor is stopped. */
export interface HandlerStopEvent {
  readonly type: "xstate.stop";
}

export const handlerMachine = setup({
  types: {
    events: {} as HandlerEvent | HandlerStopEvent,
  },
  actions: {
    // The real work is the connection's command runner (src/handler-actor.ts); provide an
    // implementation with `handlerMachine.provide({ actions: { runBatch } })` to run one.
    runBatch: () => undefined,
  },
}).createMachine({
  id: "handler",
  initial: "running",
  states: {
    running: {
      on: {
        COMMANDS: { actions: "runBatch" },
        "xstate.stop": { target: "stopped" },
      },
    },
    stopped: {
      type: "final",
    },
  },
});

export type HandlerMachine = typeof handlerMachine;
