/**
 * What a call resolves to. The reader keeps bulk strings as Buffers; they become UTF-8
 * strings here unless the call asked for Buffers (`callBuffer`), so each is decoded once.
 */
import type { ReplyError } from "../protocol/resp-reader.js";

/**
 * A reply: `+`/`$`/`=` strings, `:` numbers (bigint past 2^53, and for RESP3 `(`), `,` doubles,
 * `#` booleans, `_`/`$-1`/`*-1` null, `*` arrays, `~` Sets, `%` Maps; an error nested in an
 * array is a ReplyError value there.
 */
export type Reply = string | number | bigint | boolean | null | ReplyError | Reply[] | Set<Reply> | Map<Reply, Reply>;

/** Like {@link Reply}, with bulk strings as Buffers (simple strings stay strings). */
export type BufferReply = Buffer | string | number | bigint | boolean | null | ReplyError | BufferReply[] | Set<BufferReply> | Map<BufferReply, BufferReply>;

/** `raw` with every Buffer decoded as UTF-8. */
export function decodeStrings(raw: BufferReply): Reply {
  if (Buffer.isBuffer(raw)) return raw.toString("utf8");
  if (Array.isArray(raw)) return raw.map(decodeStrings);
  if (raw instanceof Set) return new Set([...raw].map(decodeStrings));
  if (raw instanceof Map) {
    const map = new Map<Reply, Reply>();
    for (const [key, value] of raw) map.set(decodeStrings(key), decodeStrings(value));
    return map;
  }
  return raw;
}
