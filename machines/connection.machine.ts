import { type ActorRefFrom, assign, sendTo, setup } from "xstate";
import type { CloseReason, HandshakeMode, WireProtocol } from "../src/protocol/wire.js";
import type { supervisorMachine } from "./supervisor.machine.js";
import type { HeaderLimits } from "../src/limits.js";

/**
 * The whole life of one client connection:
 *
 *   header → open (auth: ready ⇄ authenticated, and in parallel
 *                  flow: serving (reading ⇄ paused) → closing (afterQueue → afterReply))
 *          → lingering → closed
 *
 * - `header`: nothing but the handshake line is read; it has `headerTimeout`.
 * - `open.auth`: whether `@authenticated` commands may run (`mayRunAuthenticated`).
 * - `open.flow.serving.reading`: commands are read and run. `paused`: reading stopped because
 *   the client does not read its replies (unsent output above the high-water mark).
 * - `open.flow.closing`: nothing more is read; the replies still owed are written, then the
 *   connection closes. `afterQueue` replies to every command received (server shutdown, a
 *   protocol error); `afterReply` to the running command only (QUIT): what is queued behind
 *   it is dropped.
 * - `lingering`: the socket is ended and what the client still sends is read and dropped, so
 *   the kernel does not answer it with a reset that would discard the last replies; bounded
 *   by `lingerTimeout`.
 * - `closed`: the socket is gone. Reported to the supervisor, which counts open connections
 *   from these reports alone.
 *
 * Pure: no sockets and no clocks beyond XState's own `after` timers. The server feeds it one
 * event per change (the handshake, logins, output backing up, a close) and reacts to the
 * state it reaches (src/connection.ts). The per-read command traffic never passes through
 * it: each read's batch goes straight to the handler actor (machines/handler.machine.ts).
 *
 * The idle timeout is decided here (`IDLE_TIMEOUT` closes a connection in `header` or
 * `serving`, never one that is closing already) but clocked by one server-wide sweep, as Redis's clientsCron does:
 * an `after` timer per open connection would cost every idle connection a timer and its
 * bookkeeping, and re-arming it on activity would put an event on every read.
 *
 * Connection actors are created with the supervisor as their parent, so they share its
 * actor system (one system per server, not one per connection: 2 KB less per connection,
 * and an inspector on the supervisor sees every connection).
 */

export interface ConnectionInput extends HeaderLimits {
  readonly id: string;
  readonly handshake: HandshakeMode;
  /** Milliseconds a closing connection waits for the client to close its side. */
  readonly lingerTimeout: number;
  /** The server's supervisor, which this connection reports its opening and closing to. */
  readonly supervisor: ActorRefFrom<typeof supervisorMachine>;
}

export interface ConnectionContext extends HeaderLimits {
  readonly id: string;
  readonly handshake: HandshakeMode;
  readonly lingerTimeout: number;
  readonly header: Readonly<Record<string, string>> | null;
  readonly user: string | null;
  readonly protocol: WireProtocol;
  readonly closeReason: CloseReason | null;
  readonly supervisor: ActorRefFrom<typeof supervisorMachine>;
}

/** Why a connection replies to every command it received and then closes. */
export type DrainReason = Extract<CloseReason, "server_closing" | "protocol_error">;
/** Why a connection replies to the running command and then closes. */
export type QuitReason = Extract<CloseReason, "quit" | "protocol_error" | "refused">;

export type ConnectionEvent =
  /** The explicit handshake line, already split into `key=value` fields. */
  | { type: "HEADER"; fields: Readonly<Record<string, string>>; size: number }
  /** No handshake line: handshake `none`, or `auto` when the first line is a command (a RESP client says which protocol). */
  | { type: "HEADER_IMPLICIT"; protocol?: WireProtocol }
  /** The client's protocol was detected (`*` first byte, a `proto=` header token) or switched (HELLO). */
  | { type: "PROTOCOL"; protocol: WireProtocol }
  | { type: "LOGIN"; user: string }
  | { type: "LOGOUT" }
  /** Replies owed and unsent passed the high-water mark: the client is not reading them. */
  | { type: "OUTPUT_BACKED_UP" }
  /** The client has read them: the socket drained. */
  | { type: "OUTPUT_CAUGHT_UP" }
  /** Finish every command received, then close (server shutdown, a poisoned input stream). */
  | { type: "DRAIN"; reason: DrainReason }
  /** Reply to the running command, drop what is queued behind it, then close (QUIT, `close()`). */
  | { type: "QUIT"; reason: QuitReason }
  /** While closing: every reply owed is written. */
  | { type: "REPLIES_SENT" }
  /** The server's idle sweep found no complete command for `idleTimeout` milliseconds. */
  | { type: "IDLE_TIMEOUT" }
  /** The socket is gone, or is cut now: the client closed it, an error, the output limit, a forced shutdown. */
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
    /** The reason a close starts with; a later event (the socket closing after a quit) keeps it. */
    keepCloseReason: assign({
      closeReason: ({ context }, params: { reason: CloseReason }) => context.closeReason ?? params.reason,
    }),
    keepCloseReasonOfEvent: assign({
      closeReason: ({ context, event }) =>
        context.closeReason ?? ("reason" in event ? event.reason : null),
    }),
    /** QUIT while finishing the queue (the running command's reply is now the last), or a cut for the output limit. */
    takeCloseReasonOfEvent: assign({
      closeReason: ({ context, event }) => ("reason" in event ? event.reason : context.closeReason),
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
    cutForOutput: ({ event }) => event.type === "CLOSE" && event.reason === "output_limit",
  },
  delays: {
    headerTimeout: ({ context }) => (context.headerTimeout > 0 ? context.headerTimeout : NEVER_MS),
    lingerTimeout: ({ context }) => context.lingerTimeout,
  },
}).createMachine({
  id: "connection",
  context: ({ input }) => ({
    id: input.id,
    handshake: input.handshake,
    maxHeaderSize: input.maxHeaderSize,
    headerTimeout: input.headerTimeout,
    lingerTimeout: input.lingerTimeout,
    header: null,
    user: null,
    protocol: "text",
    closeReason: null,
    supervisor: input.supervisor,
  }),
  entry: "reportOpened",
  initial: "header",
  on: {
    CLOSE: [
      // Cut for its output limit: that is why it closed, whatever close was under way.
      { guard: "cutForOutput", target: ".closed", actions: "takeCloseReasonOfEvent" },
      { target: ".closed", actions: "keepCloseReasonOfEvent" },
    ],
    PROTOCOL: { actions: "assignProtocol" },
  },
  states: {
    header: {
      on: {
        HEADER: [
          { guard: "headerFitsLimit", target: "open", actions: "assignHeader" },
          { target: "lingering", actions: { type: "keepCloseReason", params: { reason: "header_too_large" } } },
        ],
        HEADER_IMPLICIT: { target: "open", actions: "assignEmptyHeader" },
        // Nothing can be owed before the handshake: these close at once.
        DRAIN: { target: "lingering", actions: "keepCloseReasonOfEvent" },
        QUIT: { target: "lingering", actions: "keepCloseReasonOfEvent" },
        IDLE_TIMEOUT: { target: "lingering", actions: { type: "keepCloseReason", params: { reason: "idle_timeout" } } },
      },
      after: {
        headerTimeout: {
          guard: "headerTimeoutEnabled",
          target: "lingering",
          actions: { type: "keepCloseReason", params: { reason: "header_timeout" } },
        },
      },
    },
    open: {
      type: "parallel",
      states: {
        auth: {
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
        flow: {
          initial: "serving",
          states: {
            serving: {
              initial: "reading",
              on: {
                DRAIN: { target: "closing.afterQueue", actions: "keepCloseReasonOfEvent" },
                QUIT: { target: "closing.afterReply", actions: "keepCloseReasonOfEvent" },
                // Paused too: a client that reads none of its replies is idle, as in Redis.
                IDLE_TIMEOUT: { target: "#connection.lingering", actions: { type: "keepCloseReason", params: { reason: "idle_timeout" } } },
              },
              states: {
                reading: {
                  on: {
                    OUTPUT_BACKED_UP: { target: "paused" },
                  },
                },
                paused: {
                  on: {
                    OUTPUT_CAUGHT_UP: { target: "reading" },
                  },
                },
              },
            },
            closing: {
              initial: "afterQueue",
              on: {
                REPLIES_SENT: { target: "#connection.lingering" },
              },
              states: {
                afterQueue: {
                  on: {
                    QUIT: { target: "afterReply", actions: "takeCloseReasonOfEvent" },
                  },
                },
                afterReply: {},
              },
            },
          },
        },
      },
    },
    lingering: {
      after: {
        lingerTimeout: { target: "closed" },
      },
    },
    closed: {
      type: "final",
      entry: "reportClosed",
    },
  },
});

export type ConnectionMachine = typeof connectionMachine;

/** Where a connection is, as its server reacts to it: one name per leaf of the `flow` region. */
export type ConnectionPhase = "header" | "reading" | "paused" | "afterQueue" | "afterReply" | "lingering" | "closed";

interface SnapshotLike {
  readonly status: string;
  readonly value: unknown;
}

/** The phase of a snapshot of this machine: plain property reads, cheap enough to run on every state change. */
export function connectionPhaseOf(snapshot: SnapshotLike): ConnectionPhase {
  if (snapshot.status !== "active") return "closed";
  const value = snapshot.value;
  if (typeof value === "string") return value as "header" | "lingering" | "closed";
  const flow = (value as { open: { flow: { serving?: "reading" | "paused"; closing?: "afterQueue" | "afterReply" } } }).open.flow;
  return flow.serving ?? flow.closing!;
}

/**
 * The public `ConnectionState` of a snapshot: `header`, `ready` or `authenticated` while it
 * is open (closing included: its queued commands still run as its user), `closed` once it
 * lingers or is gone.
 */
export function connectionStateOf(snapshot: SnapshotLike): "header" | "ready" | "authenticated" | "closed" {
  if (snapshot.status !== "active") return "closed";
  const value = snapshot.value;
  if (value === "header") return "header";
  if (typeof value === "string") return "closed";
  return (value as { open: { auth: "ready" | "authenticated" } }).open.auth;
}

/** The guard the handler applies to `@authenticated` commands: only in `open.auth.authenticated`. */
export function mayRunAuthenticated(snapshot: SnapshotLike): boolean {
  const value = snapshot.value;
  return typeof value === "object" && value !== null && (value as { open: { auth: string } }).open.auth === "authenticated";
}
