import { type ActorLogic, assign, setup, type Snapshot } from "xstate";
import { HANDLER_SYSTEM_ID, type HandlerEvent } from "./handler-event.js";

/** The handler actor keeps no state of its own: each connection has its own command queue. */
export type HandlerSnapshot = Snapshot<undefined>;
/** The logic the server provides as the supervisor's `handler` actor. */
export type HandlerLogic = ActorLogic<HandlerSnapshot, HandlerEvent>;

/** The handler actor's logic: `route` gets every COMMANDS event; XState's stop ends it. */
export function handlerLogic(route: (event: HandlerEvent) => void): HandlerLogic {
  return {
    getInitialSnapshot: () => ({ status: "active", output: undefined, error: undefined }),
    transition(snapshot, event) {
      const type = (event as { type: string }).type;
      if (type === "COMMANDS") route(event);
      // Actors also receive XState's own `xstate.stop`, which is not in HandlerEvent. Any
      // other stray event is ignored: it must never stop the actor every connection relies on.
      else if (type === "xstate.stop") return { status: "stopped", output: undefined, error: undefined };
      return snapshot;
    },
    getPersistedSnapshot: (snapshot) => snapshot,
  };
}

/**
 * One supervisor per server. It owns the global counters behind `stats`, knows when the
 * last connection is gone so `close()` can resolve, and invokes the handler actor that runs
 * every connection's commands (system id `handler`; the server provides it).
 *
 * Connection actors are its children in the actor system (created with it as parent) and
 * report their own opening and closing. Command counts arrive in batches (at most one
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
    // Placeholder so the definition stays runnable on its own (tests, inspector, diagrams);
    // the server provides the real handler actor, which runs commands and writes replies.
    handler: handlerLogic(() => undefined),
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
