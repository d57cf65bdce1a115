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
  | readonly ReplyValue[]
  | ReadonlyMap<string | number, ReplyValue>
  | { readonly [key: string]: ReplyValue };

/** One error reply: `-<code> <message>`. */
export interface ErrorReply {
  readonly code: string;
  readonly message: string;
}

/**
 * Turns a command's replies into bytes for one protocol. Encoders return strings so that
 * the replies of a whole pipelined batch can be joined and written to the socket once.
 */
export interface ReplyEncoder {
  /** Encodes everything one command wrote; `values` is never empty. */
  encodeValues(values: readonly ReplyValue[]): string;
  encodeError(error: ErrorReply): string;
}
