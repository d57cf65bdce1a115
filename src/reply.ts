import type { ReplyOutput } from "./protocol/reply-output.js";

/**
 * What a command may `write()` (or return). The connection's protocol decides how each
 * value is framed on the wire, so handlers never format protocol bytes themselves.
 */
export type ReplyValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | Uint8Array
  | Error
  | Status
  | Verbatim
  | readonly ReplyValue[]
  | ReadonlySet<ReplyValue>
  | ReadonlyMap<string | number, ReplyValue>
  | { readonly [key: string]: ReplyValue };

/** A simple status reply: `+OK` in RESP, the same line in text mode. */
export class Status {
  constructor(readonly text: string) {
    if (/[\r\n]/.test(text)) throw new TypeError("a status cannot contain CR or LF");
  }
}

/** Text meant for people (RESP3 verbatim string `=`; a bulk string in RESP2; lines in text mode). */
export class Verbatim {
  constructor(
    readonly text: string,
    /** Three-letter format: `txt` or `mkd`. */
    readonly format: "txt" | "mkd" = "txt",
  ) {}
}

/** `status("OK")` replies `+OK` on every protocol. */
export function status(text: string): Status {
  return new Status(text);
}

/** `verbatim(text)`: a RESP3 verbatim string, for help texts and reports. */
export function verbatim(text: string, format: "txt" | "mkd" = "txt"): Verbatim {
  return new Verbatim(text, format);
}

/** One error reply: `-<code> <message>`. */
export interface ErrorReply {
  readonly code: string;
  readonly message: string;
}

/**
 * Turns a command's replies into bytes for one protocol. Encoders append to a shared
 * output so the replies of a whole pipelined batch reach the socket in one write.
 */
export interface ReplyEncoder {
  /** Encodes everything one command wrote; `values` is never empty. */
  encodeValues(values: readonly ReplyValue[], out: ReplyOutput): void;
  encodeError(error: ErrorReply, out: ReplyOutput): void;
  /** An out-of-band message (pub/sub): RESP3 push `>`, a RESP2 array, a line in text mode. */
  encodePush(values: readonly ReplyValue[], out: ReplyOutput): void;
}
