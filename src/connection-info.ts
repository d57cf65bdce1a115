/**
 * What user code sees of a connection: a command's `this.connection`, the argument of
 * `authenticate`, a pub/sub subscriber. The `Connection` itself (socket, output, statechart)
 * stays private to the server.
 */
import type { Logger } from "pino";
import type { WireProtocol } from "./protocol/wire.js";
import type { ReplyValue } from "./reply.js";

/** The states a connection walks, as named in `machines/connection.machine.ts`. */
export type ConnectionState = "header" | "ready" | "authenticated" | "closed";

/** What a command can see and change about the connection it runs on. */
export interface ConnectionInfo {
  /** Unique id (nanoid), also bound to every log line of the connection. */
  readonly id: string;
  /**
   * The authenticated user, or null. Setting it moves the connection's statechart from
   * `ready` to `authenticated` (and back, when set to null).
   */
  user: string | null;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** `key=value` tokens of the handshake line (empty for an implicit header). */
  readonly header: Readonly<Record<string, string>>;
  /** Current state of the connection's statechart. */
  readonly state: ConnectionState;
  /** pino child logger bound to `{ connection: id }`. */
  readonly logger: Logger;
  /** Aborted when the connection closes: pass it to fetch, timers and queries. */
  readonly signal: AbortSignal;
  /** Small integer id, unique in this server (Redis's `CLIENT ID`). */
  readonly clientId: number;
  /** Name given by `CLIENT SETNAME` / `HELLO ... SETNAME`, or null. */
  clientName: string | null;
  /** What the client speaks: `text`, `resp2` or `resp3`. */
  readonly protocol: WireProtocol;
  /** Switches the protocol of the replies that follow (HELLO uses it). */
  setProtocol(protocol: WireProtocol): void;
  /** Closes the connection once the replies already owed to the client are written. */
  close(): void;
  /**
   * Sends a message the client did not ask for (RESP3 push `>`, a RESP2 array, one line in
   * text mode), in order with the replies: it never splits a reply and never overtakes the
   * reply of a command that finished before it. A push made while a command runs on this
   * same connection (PUBLISH to a channel it is subscribed to) comes before that
   * command's reply, as in Redis. Pushes to a closed connection are dropped.
   */
  push(...values: ReplyValue[]): void;
}
