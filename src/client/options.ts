/**
 * The options of `RetopyClient.connect`.
 */
import type { ConnectionOptions } from "node:tls";
import type { ReconnectOptions } from "./reconnect.js";

export interface RetopyClientOptions {
  host?: string | undefined;
  port: number;
  /** `node:tls` connect options (`ca`, `servername`, ...), or true for the defaults; absent = plain TCP. */
  tls?: ConnectionOptions | true | undefined;
  /** `"resp3"` (default) sends HELLO 3; `"resp2"` stays on RESP2. */
  protocol?: "resp3" | "resp2" | undefined;
  /** Logs in at connect (user defaults to `default`). */
  user?: string | undefined;
  password?: string | undefined;
  /** Selects this database (SELECT) at connect and after each reconnect, as redis-cli `-n` does; default 0 (no SELECT sent). */
  db?: number | undefined;
  /** Names the connection (HELLO SETNAME / CLIENT SETNAME). */
  name?: string | undefined;
  /** A retopy handshake line of `key=value` tokens, sent first (with `proto=` added). */
  header?: Record<string, string> | undefined;
  /** Milliseconds for the socket, TLS handshake and HELLO together; default 10000. */
  connectTimeout?: number | undefined;
  /**
   * Reconnects after the connection drops (not after close()), with backoff, redoing the
   * handshake and the subscriptions; `true` for the defaults. Absent: a closed client stays closed.
   */
  reconnect?: ReconnectOptions | boolean | undefined;
  /** Reads COMMAND DOCS at connect (and after each reconnect) to fill `client.commands`. */
  describe?: boolean | undefined;
}
