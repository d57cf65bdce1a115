/**
 * Bytes of a read that outlive it: a bulk argument an application may store, the unfinished
 * tail kept for the next read. A view keeps its whole parent allocation alive, so:
 *
 * - a quarter of its allocation or more, or 4 KB and a sixteenth, it stays a view (no copy;
 *   it pins at most 4×, or 16×, its size): a value that is much of its read is never copied;
 * - smaller, it is copied. Under 4 KB from Node's 8 KB pool, which is cheap and pins at most
 *   one 8 KB slab shared with the copies around it (an allocation of its own cost 1.3 µs per
 *   argument, 8× the decoding); larger copies, from reads joined across many chunks, get
 *   their own.
 *
 * `pooled: false` for the one tail a read may leave: it lives until the next read, and in
 * the pool it would share slabs with the arguments an application keeps.
 */
const POOLED = 4 * 1024;

export function keepable(buf: Buffer, start: number, end: number, pooled = true): Buffer {
  const length = end - start;
  const parent = buf.buffer.byteLength;
  if (length * 4 >= parent || (length >= POOLED && length * 16 >= parent)) return buf.subarray(start, end);
  const copy = pooled ? Buffer.allocUnsafe(length) : Buffer.allocUnsafeSlow(length);
  buf.copy(copy, 0, start, end);
  return copy;
}
