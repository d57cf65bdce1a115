import { type ActorRefFrom, type AnyActorRef, assign, enqueueActions, sendTo, setup } from "xstate";
import type { CloseReason, HandshakeMode, ParsedItem, WireProtocol } from "../src/protocol/wire.js";
import { HANDLER_SYSTEM_ID, type HandlerEvent } from "./handler-event.js";
import type { supervisorMachine } from "./supervisor.machine.js";
import type { HeaderLimits } from "../src/limits.js";

/**
 * The life of one client connection: `header → ready → authenticated → closed`.
 *
 * Pure: no sockets, no clocks beyond XState's own `after` timer. The server feeds it events
 * (the handshake line, each network read's batch of parsed commands, logins, closes) and
 * reacts to the state it reaches. The machine only decides *whether* anything may run:
 * nothing but the header in `header`, commands in `open`, and authenticated commands only
 * in `open.authenticated` (see `mayRunAuthenticated`).
 *
 * Commands are run by the server's handler actor (system id `handler`, invoked by the
 * supervisor), which keeps each connection's replies in order. One `COMMANDS` event carries
 * every command parsed from one network read. The server sends each batch of an `open`
 * connection straight to the handler actor (about 0.06 µs) rather than through this
 * machine's own `COMMANDS → forwardToHandler` route (about 2 µs per read, measured): the
 * machine takes every state change and none of the per-read traffic. The route stays here
 * so the machine on its own (tests, the inspector) shows where commands go.
 *
 * Connection actors are created with the supervisor as their parent, so they share its
 * actor system (one system per server, not one per connection: 2 KB less per connection,
 * and an inspector on the supervisor sees every connection).
 */

export interface ConnectionInput extends HeaderLimits {
  readonly id: string;
  readonly handshake: HandshakeMode;
  /** The server's supervisor, which this connection reports its opening and closing to. */
  readonly supervisor: ActorRefFrom<typeof supervisorMachine>;
}

export interface ConnectionContext extends HeaderLimits {
  readonly id: string;
  readonly handshake: HandshakeMode;
  readonly header: Readonly<Record<string, string>> | null;
  readonly user: string | null;
  readonly protocol: WireProtocol;
  readonly closeReason: CloseReason | null;
  readonly supervisor: ActorRefFrom<typeof supervisorMachine>;
}

export type ConnectionEvent =
  /** The explicit handshake line, already split into `key=value` fields. */
  | { type: "HEADER"; fields: Readonly<Record<string, string>>; size: number }
  /** No handshake line: handshake `none`, or `auto` when the first line is a command (a RESP client says which protocol). */
  | { type: "HEADER_IMPLICIT"; protocol?: WireProtocol }
  /** Everything parsed from one network read. */
  | { type: "COMMANDS"; items: readonly ParsedItem[] }
  /** The client's protocol was detected (`*` first byte, a `proto=` header token) or switched (HELLO). */
  | { type: "PROTOCOL"; protocol: WireProtocol }
  | { type: "LOGIN"; user: string }
  | { type: "LOGOUT" }
  | { type: "CLOSE"; reason: CloseReason };

/** The header of a connection that sent none; shared, since most connections have it. */
const NO_HEADER: Readonly<Record<string, string>> = Object.freeze({});

/** setTimeout's largest delay; used when the header timeout is off so no timer fires early. */
const NEVER_MS = 2_147_483_647;

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    input: {} as ConnectionInput,
    events: {} as ConnectionEvent,
  },
  actions: {
    assignHeader: assign({
      header: ({ event }) => (event.type === "HEADER" ? event.fields : {}),
    }),
    assignEmptyHeader: assign({
      header: () => NO_HEADER,
      // A RESP client's first request is its implicit header and tells its protocol.
      protocol: ({ context, event }) => (event.type === "HEADER_IMPLICIT" && event.protocol ? event.protocol : context.protocol),
    }),
    assignUser: assign({ user: ({ event, context }) => (event.type === "LOGIN" ? event.user : context.user) }),
    clearUser: assign({ user: () => null }),
    assignProtocol: assign({
      protocol: ({ event, context }) => (event.type === "PROTOCOL" ? event.protocol : context.protocol),
    }),
    assignCloseReason: assign({
      closeReason: (_, params: { reason: CloseReason }) => params.reason,
    }),
    assignCloseReasonFromEvent: assign({
      closeReason: ({ event, context }) => (event.type === "CLOSE" ? event.reason : context.closeReason),
    }),
    // To the system's handler actor. Without one (the machine run on its own, with no
    // supervisor as parent) the batch is dropped: sendTo with no target would send it back
    // to this machine, which would forward it again, forever.
    forwardToHandler: enqueueActions(({ context, event, system, enqueue }) => {
      const handler = system.get(HANDLER_SYSTEM_ID) as AnyActorRef | undefined;
      if (handler === undefined || event.type !== "COMMANDS") return;
      const batch: HandlerEvent = { type: "COMMANDS", connectionId: context.id, items: event.items };
      enqueue.sendTo(handler, batch);
    }),
    reportOpened: sendTo(
      ({ context }) => context.supervisor,
      ({ context }) => ({ type: "CONNECTION_OPENED" as const, id: context.id }),
    ),
    reportClosed: sendTo(
      ({ context }) => context.supervisor,
      ({ context }) => ({ type: "CONNECTION_CLOSED" as const, id: context.id, reason: context.closeReason ?? "client_closed" }),
    ),
  },
  guards: {
    headerFitsLimit: ({ context, event }) => event.type === "HEADER" && event.size <= context.maxHeaderSize,
    headerTimeoutEnabled: ({ context }) => context.headerTimeout > 0,
  },
  delays: {
    headerTimeout: ({ context }) => (context.headerTimeout > 0 ? context.headerTimeout : NEVER_MS),
  },
}).createMachine({
  id: "connection",
  context: ({ input }) => ({
    id: input.id,
    handshake: input.handshake,
    maxHeaderSize: input.maxHeaderSize,
    headerTimeout: input.headerTimeout,
    header: null,
    user: null,
    protocol: "text",
    closeReason: null,
    supervisor: input.supervisor,
  }),
  entry: "reportOpened",
  initial: "header",
  on: {
    CLOSE: { target: ".closed", actions: "assignCloseReasonFromEvent" },
    PROTOCOL: { actions: "assignProtocol" },
  },
  states: {
    header: {
      on: {
        HEADER: [
          { guard: "headerFitsLimit", target: "open", actions: "assignHeader" },
          { target: "closed", actions: { type: "assignCloseReason", params: { reason: "header_too_large" } } },
        ],
        HEADER_IMPLICIT: { target: "open", actions: "assignEmptyHeader" },
      },
      after: {
        headerTimeout: {
          guard: "headerTimeoutEnabled",
          target: "closed",
          actions: { type: "assignCloseReason", params: { reason: "header_timeout" } },
        },
      },
    },
    open: {
      on: {
        COMMANDS: { actions: "forwardToHandler" },
      },
      initial: "ready",
      states: {
        ready: {
          on: {
            LOGIN: { target: "authenticated", actions: "assignUser" },
          },
        },
        authenticated: {
          on: {
            LOGIN: { actions: "assignUser" },
            LOGOUT: { target: "ready", actions: "clearUser" },
          },
        },
      },
    },
    closed: {
      type: "final",
      entry: "reportClosed",
    },
  },
});

export type ConnectionMachine = typeof connectionMachine;

/** The state names of `ConnectionState`, from a snapshot of this machine. */
export function connectionStateOf(snapshot: {
  status: string;
  matches: (value: "header" | "closed" | { open: "authenticated" }) => boolean;
}): "header" | "ready" | "authenticated" | "closed" {
  if (snapshot.status !== "active" || snapshot.matches("closed")) return "closed";
  if (snapshot.matches("header")) return "header";
  return snapshot.matches({ open: "authenticated" }) ? "authenticated" : "ready";
}

/** The guard the handler applies to `@authenticated` commands: only in `open.authenticated`. */
export function mayRunAuthenticated(snapshot: { matches: (value: { open: "authenticated" }) => boolean }): boolean {
  return snapshot.matches({ open: "authenticated" });
}
