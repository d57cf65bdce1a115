/**
 * The client's two kinds of failure: a {@link ReplyError} is the server's answer (`-CODE msg`),
 * a {@link ClientError} is the client's own (closed, timed out, aborted, a broken stream), so
 * callers can tell "the command failed" from "the command may never have run".
 */

/** An error reply from the server (`-WRONGPASS invalid ...` has code `WRONGPASS`); shared with the reply reader. */
export { ReplyError } from "../protocol/resp-reader.js";

/** Why a call failed on the client's side. */
export type ClientErrorCode =
  | "CLOSED"
  | "TIMEOUT"
  | "ABORTED"
  | "PROTOCOL"
  | "CONNECT"
  /** `reconnect` with `whileDisconnected: "reject"` (or a full queue): the call was not sent. */
  | "DISCONNECTED"
  /** The connection dropped with the call in flight: it may or may not have run, and is not resent. */
  | "CONNECTION_LOST";

/** A call (or the connection) failed without an error reply from the server. */
export class ClientError extends Error {
  override name = "ClientError";

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
