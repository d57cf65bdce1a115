/**
 * The wire's own vocabulary, shared by the decoder, the runner, the connection and its
 * statechart: what one parsed item is, which protocol a client speaks, how a handshake is
 * expected, and why a connection ended. Types only (and one guard), so anything may import it.
 */

/** A command's words as received: strings, or raw bytes for binary RESP arguments. */
export type CommandWords = readonly (string | Buffer)[];

/**
 * One item parsed from the wire: a command's words (the array itself, with no wrapper: one
 * object less per command), or a protocol error to report in order.
 */
export type ParsedItem =
  | CommandWords
  | { readonly error: string; readonly close: boolean }
  /** Credentials from the handshake line (`auth=user:password`), checked in order, silently. */
  | { readonly login: { readonly user: string; readonly password: string } };

/** True for a command, false for an error or login item. */
export function isCommand(item: ParsedItem): item is CommandWords {
  return Array.isArray(item);
}

export type CloseReason =
  | "client_closed"
  | "quit"
  | "server_closing"
  | "header_too_large"
  | "header_timeout"
  | "protocol_error"
  | "socket_error"
  /** No complete command for `idleTimeout` milliseconds. */
  | "idle_timeout"
  /** The client let more than `maxOutputBuffer` bytes of replies pile up unread. */
  | "output_limit"
  /** An application's onConnect hook refused the client (it threw). */
  | "refused";

export type HandshakeMode = "auto" | "line" | "none";

/** What the client speaks: telnet-style text, or Redis's RESP2/RESP3. */
export type WireProtocol = "text" | "resp2" | "resp3";
