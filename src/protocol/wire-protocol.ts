/**
 * A wire protocol as one object: how it is recognised, how its requests are read and how
 * replies are written to it, and the few facts other parts ask of it. The connection, the
 * runner and the Redis commands read these fields instead of comparing protocol names.
 *
 * Adding a protocol: a file that exports one `WireProtocolSpec`, and its line in
 * `src/protocol/protocols.ts`.
 */
import type { ErrorReply, ReplyEncoder } from "../reply.js";
import type { WireFormat } from "./request-decoder.js";
import type { WireProtocol } from "./wire.js";

export interface WireProtocolSpec {
  readonly name: WireProtocol;
  /** Detection: the first byte a client of this protocol opens with, if it has one (RESP's `*`). */
  readonly firstByte: number | null;
  /** Detection: may a handshake line choose it with `proto=<name>`? */
  readonly headerSelectable: boolean;
  /** How the request decoder reads it: inline lines, or RESP multibulk (inline too). */
  readonly requestFormat: WireFormat;
  /** Telnet's option negotiation and Ctrl-C are stripped from its requests. */
  readonly telnet: boolean;
  readonly encoder: ReplyEncoder;
  /** The RESP version a Redis client sees (HELLO, CLIENT INFO's `resp=`), 0 for none. */
  readonly respVersion: 0 | 2 | 3;
  /** Replies are lines a person reads: multi-line text is sent as lines (INFO, CLIENT LIST). */
  readonly forPeople: boolean;
  /** What a command that needs a login answers before one. */
  readonly loginRequired: ErrorReply;
}
