import { assign, setup } from "xstate";
import { HANDLER_SYSTEM_ID, type HandlerLogic } from "./handler-event.js";
import { handlerMachine } from "./handler.machine.js";

/**
 * One supervisor per server. It owns the global counters behind `stats` and the server's
 * `maxConnections` check, walks the server's shutdown (`running → draining → stopped`:
 * `close()` resolves when it reaches `stopped`), and invokes the handler actor that runs
 * every connection's commands (system id `handler`; the server provides its fast logic).
 *
 * Connection actors are its children in the actor system (created with it as parent) and
 * report their own opening and closing; one that fails counts as closed, and its error
 * stops there instead of taking the supervisor (and with it the server) down. Command counts arrive in batches (at most one
 * `COMMANDS_COUNTED` per 250 ms for the whole server), which keeps the supervisor off the
 * per-command hot path.
 */
export interface SupervisorContext {
  readonly startedAt: number;
  readonly connectionsCurrent: number;
  readonly connectionsTotal: number;
  /** Connections turned away at accept because `maxConnections` were open. */
  readonly connectionsRejected: number;
  readonly commandsTotal: number;
  readonly errorsTotal: number;
  /** Runs per command name, including failed runs. */
  readonly commandCounts: Readonly<Record<string, number>>;
}

export interface SupervisorInput {
  /** Epoch milliseconds; passed in so the machine stays free of clocks. */
  readonly startedAt: number;
}

export type SupervisorEvent =
  | { type: "CONNECTION_OPENED"; id: string }
  | { type: "CONNECTION_CLOSED"; id: string; reason: string }
  | { type: "CONNECTION_REJECTED" }
  | { type: "COMMANDS_COUNTED"; counts: Readonly<Record<string, number>>; total: number; errors: number }
  | { type: "SHUTDOWN" };

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    input: {} as SupervisorInput,
    events: {} as SupervisorEvent,
  },
  actors: {
    // The route as a statechart, so the definition runs on its own (tests, inspector,
    // diagrams); the server provides the same route as faster plain logic.
    handler: handlerMachine as unknown as HandlerLogic,
  },
  actions: {
    countOpened: assign(({ context }) => ({
      connectionsCurrent: context.connectionsCurrent + 1,
      connectionsTotal: context.connectionsTotal + 1,
    })),
    countClosed: assign(({ context }) => ({
      connectionsCurrent: Math.max(0, context.connectionsCurrent - 1),
    })),
    countRejected: assign(({ context }) => ({ connectionsRejected: context.connectionsRejected + 1 })),
    addCommandCounts: assign(({ context, event }) => {
      if (event.type !== "COMMANDS_COUNTED") return {};
      // Without a prototype, a command called `constructor` or `__proto__` is just a key.
      const commandCounts: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, context.commandCounts);
      for (const [name, count] of Object.entries(event.counts)) {
        commandCounts[name] = (Object.hasOwn(commandCounts, name) ? commandCounts[name]! : 0) + count;
      }
      return {
        commandCounts,
        commandsTotal: context.commandsTotal + event.total,
        errorsTotal: context.errorsTotal + event.errors,
      };
    }),
  },
  guards: {
    noConnectionsLeft: ({ context }) => context.connectionsCurrent === 0,
  },
}).createMachine({
  id: "supervisor",
  context: ({ input }) => ({
    startedAt: input.startedAt,
    connectionsCurrent: 0,
    connectionsTotal: 0,
    connectionsRejected: 0,
    commandsTotal: 0,
    errorsTotal: 0,
    commandCounts: {},
  }),
  invoke: { id: "handler", systemId: HANDLER_SYSTEM_ID, src: "handler" },
  initial: "running",
  on: {
    CONNECTION_CLOSED: { actions: "countClosed" },
    // A connection actor that failed (a bug) never reports its close: this is its close.
    "xstate.error.actor.connection": { actions: "countClosed" },
    COMMANDS_COUNTED: { actions: "addCommandCounts" },
  },
  states: {
    running: {
      on: {
        CONNECTION_OPENED: { actions: "countOpened" },
        CONNECTION_REJECTED: { actions: "countRejected" },
        SHUTDOWN: { target: "draining" },
      },
    },
    draining: {
      always: { guard: "noConnectionsLeft", target: "stopped" },
    },
    stopped: {
      type: "final",
    },
  },
});

export type SupervisorMachine = typeof supervisorMachine;
