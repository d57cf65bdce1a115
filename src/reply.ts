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
  /** The status as one protocol line, `+text\r\n`; built once, since replies reuse statuses. */
  readonly line: string;

  constructor(readonly text: string) {
    if (text.includes("\r") || text.includes("\n")) throw new TypeError("a status cannot contain CR or LF");
    this.line = `+${text}\r\n`;
  }
}

/**
 * Brands on the prototypes of Status and Verbatim, shared by every copy of retopy in the
 * process (`Symbol.for`): an Application built with another copy (the CLI serves one, see
 * `isApplication`) replies with that copy's classes, which `instanceof` does not recognise.
 */
export const STATUS_BRAND = Symbol.for("retopy.status");
export const VERBATIM_BRAND = Symbol.for("retopy.verbatim");
Object.defineProperty(Status.prototype, STATUS_BRAND, { value: true });

/** Statuses are immutable, so the common ones are shared instead of rebuilt per command. */
const internedStatuses = new Map<string, Status>();
const MAX_INTERNED_STATUSES = 1024;

/** Text meant for people (RESP3 verbatim string `=`; a bulk string in RESP2; lines in text mode). */
export class Verbatim {
  constructor(
    readonly text: string,
    /** Three-letter format: `txt` or `mkd`. */
    readonly format: "txt" | "mkd" = "txt",
  ) {}
}

Object.defineProperty(Verbatim.prototype, VERBATIM_BRAND, { value: true });

/** `status("OK")` replies `+OK` on every protocol. */
export function status(text: string): Status {
  const known = internedStatuses.get(text);
  if (known) return known;
  const created = new Status(text);
  // Bounded: a status built from varying text (a counter, say) must not grow the cache.
  if (internedStatuses.size < MAX_INTERNED_STATUSES) internedStatuses.set(text, created);
  return created;
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
  /** Encodes the one value a command replied with (the common case). */
  encodeValue(value: ReplyValue, out: ReplyOutput): void;
  /** Encodes everything one command wrote; `values` is never empty. */
  encodeValues(values: readonly ReplyValue[], out: ReplyOutput): void;
  encodeError(error: ErrorReply, out: ReplyOutput): void;
  /** An out-of-band message (pub/sub): RESP3 push `>`, a RESP2 array, a line in text mode. */
  encodePush(values: readonly ReplyValue[], out: ReplyOutput): void;
}
