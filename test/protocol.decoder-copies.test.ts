/**
 * What the request decoder does to a large bulk value: how many times its bytes are copied,
 * and that they are never scanned again once their length is known. Counted by wrapping the
 * Buffer methods that copy or read bytes (`Buffer.concat`, `copy`, `toString`, `indexOf`,
 * `subarray` is a view and costs nothing), over the chunkings a socket really produces.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import fc from "fast-check";
import type { DecoderLimits } from "../src/limits.js";
import { RequestDecoder } from "../src/protocol/request-decoder.js";
import { isCommand, type ParsedItem } from "../src/protocol/wire.js";

const LIMITS: DecoderLimits = { maxLineLength: 64 * 1024, maxBulkLength: 8 << 20, maxArgs: 1024 };
const KB = 1024;

function setRequest(key: string, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n`), value, Buffer.from("\r\n")]);
}

/** Cuts `bytes` at `sizes` (repeated), as reads of those sizes would deliver them. */
function cut(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    // Each chunk its own allocation of its own size, as each socket read is (Node shrinks
    // its 64 KB read buffer to the bytes read).
    const piece = bytes.subarray(at, at + size);
    const chunk = Buffer.allocUnsafeSlow(piece.length);
    piece.copy(chunk);
    chunks.push(chunk);
    at += size;
  }
  return chunks;
}

interface Tally {
  /** Bytes written into a new allocation by `Buffer.concat` or `buf.copy`. */
  copied: number;
  /** Bytes read by `toString` or `indexOf` (a scan), counted from where each started. */
  scanned: number;
  /** The allocations `Buffer.concat` made: a value that is a view of one was not copied again. */
  joined: Set<ArrayBufferLike>;
}

/** Runs `body` with the copying and scanning Buffer methods counted. */
function counting(body: () => void): Tally {
  const tally: Tally = { copied: 0, scanned: 0, joined: new Set() };
  const proto = Buffer.prototype;
  const { concat } = Buffer;
  const { copy, toString, indexOf } = proto;
  Buffer.concat = function (list: readonly Uint8Array[], total?: number) {
    const out = concat.call(Buffer, list, total);
    tally.copied += out.length;
    tally.joined.add(out.buffer);
    return out;
  };
  proto.copy = function (this: Buffer, target: Uint8Array, targetStart?: number, start?: number, end?: number) {
    const n = copy.call(this, target, targetStart, start, end);
    tally.copied += n;
    return n;
  };
  proto.toString = function (this: Buffer, encoding?: BufferEncoding, start?: number, end?: number) {
    tally.scanned += Math.min(end ?? this.length, this.length) - (start ?? 0);
    return toString.call(this, encoding, start, end);
  } as typeof proto.toString;
  proto.indexOf = function (this: Buffer, value: string | number | Uint8Array, from?: number | BufferEncoding, encoding?: BufferEncoding) {
    const found = indexOf.call(this, value, from as number, encoding);
    const start = typeof from === "number" ? from : 0;
    tally.scanned += (found === -1 ? this.length : found + 1) - start;
    return found;
  } as typeof proto.indexOf;
  try {
    body();
  } finally {
    Buffer.concat = concat;
    Object.assign(proto, { copy, toString, indexOf });
  }
  return tally;
}

function decodeCounted(chunks: readonly Buffer[]): { items: ParsedItem[]; tally: Tally } {
  const decoder = new RequestDecoder("resp", LIMITS);
  const items: ParsedItem[] = [];
  const tally = counting(() => {
    for (const chunk of chunks) decoder.push(chunk, items);
  });
  return { items, tally };
}

/** The request's short words (command, key) are copied out of a large read: a few bytes. */
const WORDS = 64;
/**
 * A header line that arrives in pieces is joined and read again with each piece (it is at
 * most 32 bytes a number): bytes in the order of its length squared, never the value's.
 */
const HEADER_PIECES = 1024;
/** A read of up to this many bytes is read once as text (the decoder's per-read view). */
const TEXT_VIEW = 16 * KB;

function valueOf(item: ParsedItem | undefined): Buffer {
  assert.ok(item && isCommand(item), "a command");
  const value = item[2];
  assert.ok(Buffer.isBuffer(value), "a large value stays bytes");
  return value;
}

describe("request decoder: a large bulk value", () => {
  afterEach(() => assert.equal(Buffer.concat.name, "concat", "Buffer.concat restored"));

  it("in one read is not copied at all: it is a view of that read", () => {
    const value = Buffer.alloc(100 * KB, 0x78);
    const chunks = cut(setRequest("k", value), [1 << 20]);
    const { items, tally } = decodeCounted(chunks);
    assert.deepEqual(valueOf(items[0]), value);
    assert.equal(valueOf(items[0]).buffer, chunks[0]!.buffer, "a view of the read");
    assert.ok(tally.copied <= WORDS, `copied ${tally.copied} bytes`);
  });

  for (const [label, sizes] of [
    ["64 KB reads, as a socket delivers a 100 KB SET", [64 * KB]],
    ["1 KB reads", [KB]],
    ["1-byte reads across its header, then 16 KB reads", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 16 * KB]],
  ] as const) {
    it(`across ${label}: its bytes are copied once, and never scanned`, () => {
      const value = Buffer.alloc(100 * KB, 0x78);
      const request = setRequest("key:1", value);
      const { items, tally } = decodeCounted(cut(request, sizes));
      assert.equal(items.length, 1);
      assert.deepEqual(valueOf(items[0]), value);
      assert.ok(tally.joined.has(valueOf(items[0]).buffer), "a view of the one join, not a copy of it");
      // One join of what was held: the value, and at most the one read that completed its
      // header (joined with the header's pieces, then again with the rest).
      const biggest = Math.max(...sizes);
      const bound = value.length + (sizes.length > 1 ? biggest : 0) + HEADER_PIECES;
      assert.ok(tally.copied >= value.length && tally.copied <= bound, `copied ${tally.copied} bytes for a ${value.length}-byte value`);
      // Read as text: the small reads that carried its header, never the value's bytes again.
      const readAsText = 2 * Math.min(biggest, TEXT_VIEW) + HEADER_PIECES;
      assert.ok(tally.scanned <= readAsText, `scanned ${tally.scanned} bytes`);
    });
  }

  it("a pipeline of large SETs cut anywhere: every value copied at most once in total, and read back exactly", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 17 * KB, max: 200 * KB }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 96 * KB }), { minLength: 1, maxLength: 8 }),
        (lengths, sizes) => {
          const values = lengths.map((length, i) => Buffer.alloc(length, 0x61 + i));
          const stream = Buffer.concat(values.map((value, i) => setRequest(`key:${i}`, value)));
          const { items, tally } = decodeCounted(cut(stream, sizes));
          assert.equal(items.length, values.length);
          values.forEach((value, i) => assert.ok(valueOf(items[i]).equals(value), `value ${i}`));
          const total = values.reduce((sum, value) => sum + value.length, 0);
          // A value is copied when it spans reads; the bytes of the next request that came
          // with its last read may be joined with it and then kept for the next read (a
          // copy of each, bounded by a quarter of that read): at most 1.5× in all.
          const biggest = Math.max(...sizes);
          assert.ok(tally.copied <= total * 1.5 + biggest + HEADER_PIECES * values.length, `copied ${tally.copied} of ${total}`);
          const readAsText = values.length * (2 * Math.min(biggest, TEXT_VIEW) + HEADER_PIECES);
          assert.ok(tally.scanned <= readAsText, `scanned ${tally.scanned} of ${total}`);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("what it keeps of a read after the value does not pin that read", () => {
    // The value ends early in a large read: the rest of the read (the next request's start)
    // is kept for the next read as a copy, not as a view of the whole read.
    const value = Buffer.alloc(100 * KB, 0x78);
    const next = Buffer.from("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200000\r\n");
    const first = setRequest("k", value);
    const chunks = [first.subarray(0, 60 * KB), Buffer.concat([first.subarray(60 * KB), next, Buffer.alloc(40 * KB)])];
    const decoder = new RequestDecoder("resp", LIMITS);
    const items: ParsedItem[] = [];
    for (const chunk of chunks) decoder.push(Buffer.from(chunk), items);
    assert.equal(items.length, 1);
    const held = decoder.buffered;
    assert.ok(held > 40 * KB && held < 41 * KB, `holds ${held} bytes of the next request`);
  });
});
