import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { LineReader, type LineBatch } from "../src/protocol/line-reader.js";

const b = (s: string | Uint8Array): Buffer => Buffer.from(s as string);
const strs = (batch: LineBatch): string[] => batch.lines.map((l) => l.toString("latin1"));

/** Feeds chunks one by one, collecting every line and whether any push overflowed. */
function feedAll(reader: LineReader, chunks: Uint8Array[]): { lines: string[]; overflow: boolean } {
  const lines: string[] = [];
  let overflow = false;
  for (const chunk of chunks) {
    const batch = reader.push(Buffer.from(chunk));
    lines.push(...strs(batch));
    overflow ||= batch.overflow;
  }
  return { lines, overflow };
}

/** Splits `bytes` at the given (unsorted, possibly duplicated) cut points. */
function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const sorted = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((x, y) => x - y);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of sorted) {
    chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  chunks.push(bytes.subarray(prev));
  return chunks;
}

describe("LineReader", () => {
  it("splits on LF", () => {
    const r = new LineReader(100);
    assert.deepEqual(strs(r.push(b("a\nbc\n"))), ["a", "bc"]);
    assert.equal(r.buffered, 0);
  });

  it("drops a CR only when it directly precedes LF", () => {
    const r = new LineReader(100);
    assert.deepEqual(strs(r.push(b("a\r\nb\rc\n\r\r\n"))), ["a", "b\rc", "\r"]);
  });

  it("returns empty lines", () => {
    const r = new LineReader(100);
    const batch = r.push(b("\n\r\nx\n\n"));
    assert.deepEqual(strs(batch), ["", "", "x", ""]);
    assert.equal(batch.overflow, false);
  });

  it("keeps a partial tail across chunks", () => {
    const r = new LineReader(100);
    assert.deepEqual(r.push(b("hel")), { lines: [], overflow: false });
    assert.equal(r.buffered, 3);
    assert.deepEqual(strs(r.push(b("lo wo"))), []);
    assert.equal(r.buffered, 8);
    assert.deepEqual(strs(r.push(b("rld\nnext"))), ["hello world"]);
    assert.equal(r.buffered, 4);
    assert.deepEqual(strs(r.push(b("\n"))), ["next"]);
    assert.equal(r.buffered, 0);
  });

  it("handles a CRLF split between chunks", () => {
    const r = new LineReader(100);
    assert.deepEqual(strs(r.push(b("abc\r"))), []);
    assert.deepEqual(strs(r.push(b("\ndef\r"))), ["abc"]);
    assert.deepEqual(strs(r.push(b("x\n"))), ["def\rx"]);
  });

  it("returns views of the chunk on the fast path", () => {
    const r = new LineReader(100);
    const chunk = b("abc\n");
    const [line] = r.push(chunk).lines;
    assert.ok(line);
    assert.equal(line.buffer, chunk.buffer);
  });

  it("accepts a line of exactly maxLineLength, terminator excluded", () => {
    const r = new LineReader(3);
    assert.deepEqual(r.push(b("abc\r\nxyz\n")), { lines: [b("abc"), b("xyz")], overflow: false });
    assert.deepEqual(strs(r.push(b("ab"))), []);
    assert.deepEqual(strs(r.push(b("c\r"))), []);
    assert.equal(r.buffered, 4, "pending CR may still be part of CRLF");
    assert.deepEqual(r.push(b("\n")), { lines: [b("abc")], overflow: false });
  });

  it("overflows on a complete line that is too long, keeping earlier lines", () => {
    const r = new LineReader(3);
    const batch = r.push(b("ok\nabcd\nlater\n"));
    assert.equal(batch.overflow, true);
    assert.deepEqual(strs(batch), ["ok"]);
    assert.equal(r.buffered, 0);
    assert.equal(r.poisoned, true);
  });

  it("overflows on a pending line that is already too long", () => {
    const r = new LineReader(3);
    const batch = r.push(b("ok\nab"));
    assert.deepEqual(batch, { lines: [b("ok")], overflow: false });
    const batch2 = r.push(b("cd"));
    assert.deepEqual(batch2, { lines: [], overflow: true });
    assert.equal(r.buffered, 0);
  });

  it("counts a pending CR as content once it is not followed by LF", () => {
    const r = new LineReader(3);
    assert.equal(r.push(b("abc\r")).overflow, false);
    assert.equal(r.push(b("d")).overflow, true);
  });

  it("is poisoned after overflow", () => {
    const r = new LineReader(2);
    assert.equal(r.push(b("toolong")).overflow, true);
    assert.deepEqual(r.push(b("\nfine\n")), { lines: [], overflow: true });
    assert.deepEqual(r.push(b("x\n")), { lines: [], overflow: true });
    assert.equal(r.buffered, 0);
  });

  it("applies a changed maxLineLength from the next push", () => {
    const r = new LineReader(4);
    assert.deepEqual(strs(r.push(b("hdr\n"))), ["hdr"]);
    r.maxLineLength = 10;
    assert.deepEqual(r.push(b("0123456789\n")), { lines: [b("0123456789")], overflow: false });
  });

  it("bounds memory while a huge line streams in", () => {
    const r = new LineReader(1000);
    const chunk = Buffer.alloc(300, 0x61);
    let overflowAt = -1;
    for (let i = 0; i < 100; i++) {
      const { overflow } = r.push(chunk);
      assert.ok(r.buffered <= 1001);
      if (overflow && overflowAt < 0) overflowAt = i;
    }
    assert.equal(overflowAt, 3);
    assert.equal(r.buffered, 0);
  });

  it("ignores empty chunks", () => {
    const r = new LineReader(10);
    assert.deepEqual(r.push(Buffer.alloc(0)), { lines: [], overflow: false });
    r.push(b("ab"));
    assert.deepEqual(r.push(Buffer.alloc(0)), { lines: [], overflow: false });
    assert.equal(r.buffered, 2);
  });

  it("rejects a negative or NaN limit", () => {
    assert.throws(() => new LineReader(-1), RangeError);
    assert.throws(() => new LineReader(Number.NaN), RangeError);
  });
});

/** Bytes rich in LF and CR so terminators and their splits are exercised. */
const streamBytes = fc
  .array(fc.oneof(fc.constantFrom(0x0a, 0x0d, 0x61), fc.integer({ min: 0, max: 255 })), { maxLength: 300 })
  .map((a) => Uint8Array.from(a));

describe("LineReader properties", () => {
  it("(a) chunking never changes the lines or the overflow outcome", () => {
    fc.assert(
      fc.property(
        streamBytes,
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 0, max: 40 }),
        (bytes, points, max) => {
          const whole = feedAll(new LineReader(max), [bytes]);
          const split = feedAll(new LineReader(max), cut(bytes, points));
          assert.deepEqual(split, whole);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("(a') with no limit, lines equal a naive split of the stream", () => {
    fc.assert(
      fc.property(streamBytes, fc.array(fc.nat(), { maxLength: 20 }), (bytes, points) => {
        const text = Buffer.from(bytes).toString("latin1");
        const expected = text.split("\n").slice(0, -1).map((l) => l.replace(/\r$/, ""));
        assert.deepEqual(feedAll(new LineReader(Infinity), cut(bytes, points)).lines, expected);
      }),
      { numRuns: 300 },
    );
  });

  it("(b) never throws and buffered <= maxLineLength + 1 after every push", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 30 }),
        fc.integer({ min: 0, max: 32 }),
        (chunks, max) => {
          const r = new LineReader(max);
          for (const chunk of chunks) {
            const batch = r.push(Buffer.from(chunk));
            assert.ok(r.buffered <= max + 1, `buffered ${r.buffered} > ${max} + 1`);
            for (const line of batch.lines) assert.ok(line.length <= max);
            if (batch.overflow) assert.equal(r.buffered, 0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("(c) lines under the limit never overflow, whatever the chunking", () => {
    const lineArb = fc
      .uint8Array({ maxLength: 20 })
      .map((a) => Uint8Array.from(a.filter((x) => x !== 0x0a)));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(lineArb, fc.boolean()), { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (lines, points) => {
          const parts = lines.map(([l, crlf]) => Buffer.concat([l, b(crlf ? "\r\n" : "\n")]));
          const result = feedAll(new LineReader(20), cut(Buffer.concat(parts), points));
          assert.equal(result.overflow, false);
          const expected = lines.map(([l, crlf]) => {
            const s = Buffer.from(l).toString("latin1");
            // A line that itself ends in CR loses it when sent with plain LF.
            return crlf ? s : s.replace(/\r$/, "");
          });
          assert.deepEqual(result.lines, expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
