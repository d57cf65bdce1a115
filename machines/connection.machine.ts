import { type ActorRefFrom, assign, fromCallback, sendTo, setup } from "xstate";
import type { supervisorMachine } from "./supervisor.machine.js";

/**
 * The life of one client connection: `header → ready → authenticated → closed`.
 *
 * Pure: no sockets, no clocks beyond XState's own `after` timer. The server feeds it events
 * (the handshake line, each network read's batch of parsed commands, logins, closes) and
 * reacts to the state it reaches. Commands are forwarded to the `handler` actor, which the
 * server provides; the machine only decides *whether* anything may run: nothing but the
 * header in `header`, commands in `open`, and authenticated commands only in
 * `open.authenticated` (see `mayRunAuthenticated`).
 *
 * One `COMMANDS` event carries every command parsed from one network read. The handler
 * actor exists only while `open`, so a batch can only be run there. The server sends each
 * batch straight to that handler actor (about 0.06 µs) rather than through this machine's
 * own `COMMANDS → forwardToHandler` route (about 2 µs per read, measured): the machine takes
 * every state change and none of the per-read traffic. The route stays here so the machine
 * on its own (tests, the inspector) shows where commands go.
 */

/**
 * One item parsed from the wire: a command's words (strings, or raw bytes for binary RESP
 * arguments), or a protocol error to report in order.
 */
export type ParsedItem =
  | { readonly argv: readonly (string | Buffer)[] }
  | { readonly error: string; readonly close: boolean }
  /** Credentials from the handshake line (`auth=user:password`), checked in order, silently. */
  | { readonly login: { readonly user: string; readonly password: string } };

export type CloseReason =
  | "client_closed"
  | "quit"
  | "server_closing"
  | "header_too_large"
  | "header_timeout"
  | "protocol_error"
  | "socket_error";

export type HandshakeMode = "auto" | "line" | "none";

/** What the client speaks: telnet-style text, or Redis's RESP2/RESP3. */
export type WireProtocol = "text" | "resp2" | "resp3";

export interface ConnectionInput {
  readonly id: string;
  readonly handshake: HandshakeMode;
  /** Bytes allowed in the handshake line. */
  readonly maxHeaderSize: number;
  /** Milliseconds to wait for the handshake line; 0 waits forever. */
  readonly headerTimeout: number;
  /** The server's supervisor, which this connection reports its opening and closing to. */
  readonly supervisor: ActorRefFrom<typeof supervisorMachine>;
}

export interface ConnectionContext {
  readonly id: string;
  readonly handshake: HandshakeMode;
  readonly maxHeaderSize: number;
  readonly headerTimeout: number;
  readonly header: Readonly<Record<string, string>> | null;
  readonly user: string | null;
  readonly protocol: WireProtocol;
  readonly closeReason: CloseReason | null;
  readonly supervisor: ActorRefFrom<typeof supervisorMachine>;
}

export type ConnectionEvent =
  /** The explicit handshake line, already split into `key=value` fields. */
  | { type: "HEADER"; fields: Readonly<Record<string, string>>; size: number }
  /** No handshake line: handshake `none`, or `auto` when the first line is a command. */
  | { type: "HEADER_IMPLICIT" }
  /** Everything parsed from one network read. */
  | { type: "COMMANDS"; items: readonly ParsedItem[] }
  /** The client's protocol was detected (`*` first byte, a `proto=` header token) or switched (HELLO). */
  | { type: "PROTOCOL"; protocol: WireProtocol }
  | { type: "LOGIN"; user: string }
  | { type: "LOGOUT" }
  | { type: "CLOSE"; reason: CloseReason };

/** The event the handler actor receives: the batch, unchanged. */
export type HandlerEvent = Extract<ConnectionEvent, { type: "COMMANDS" }>;

export interface HandlerInput {
  readonly connectionId: string;
}

/** setTimeout's largest delay; used when the header timeout is off so no timer fires early. */
const NEVER_MS = 2_147_483_647;

export const connectionMachine = setup({
  types: {
    context: {} as ConnectionContext,
    input: {} as ConnectionInput,
    events: {} as ConnectionEvent,
  },
  actors: {
    // Placeholder so the definition stays runnable on its own (tests, inspector, diagrams);
    // the server provides the real handler, which runs commands and writes replies.
    handler: fromCallback<HandlerEvent, HandlerInput>(() => undefined),
  },
  actions: {
    assignHeader: assign({
      header: ({ event }) => (event.type === "HEADER" ? event.fields : {}),
    }),
    assignEmptyHeader: assign({ header: () => ({}) }),
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
    forwardToHandler: sendTo("handler", ({ event }) => event as HandlerEvent),
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
      invoke: { id: "handler", src: "handler", input: ({ context }) => ({ connectionId: context.id }) },
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
