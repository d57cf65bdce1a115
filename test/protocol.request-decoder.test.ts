/**
 * The request decoder: RESP multibulk and inline commands, split across reads however the
 * network likes, with its limits. Pure: no sockets needed to prove the parser's promises.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { isCommand, type ParsedItem } from "../src/protocol/wire.js";
import type { DecoderLimits } from "../src/limits.js";
import { RequestDecoder, type WireFormat } from "../src/protocol/request-decoder.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const LIMITS: DecoderLimits = { maxLineLength: 1024, maxBulkLength: 1 << 20, maxArgs: 1024 };

/** RESP request bytes for `args`, exactly as redis-cli or ioredis send them. */
function resp(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

function decode(chunks: readonly Buffer[], format: WireFormat = "resp", limits = LIMITS): ParsedItem[] {
  const decoder = new RequestDecoder(format, limits);
  const out: ParsedItem[] = [];
  for (const chunk of chunks) decoder.push(chunk, out);
  return out;
}

/** A command's words, or the error text of an error item. */
function wordsOrError(item: ParsedItem): readonly (string | Buffer)[] | string {
  return isCommand(item) ? item : "error" in item ? item.error : "login";
}

/** Arguments as bytes, whatever type the decoder chose for each. */
function asBytes(items: readonly ParsedItem[]): (Buffer[] | string)[] {
  return items.map((item) =>
    isCommand(item) ? item.map((a) => (typeof a === "string" ? Buffer.from(a, "latin1") : Buffer.from(a))) : String(wordsOrError(item)),
  );
}

/** Cuts `data` at the given offsets (any order, duplicates allowed). */
function cut(data: Buffer, offsets: readonly number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    chunks.push(data.subarray(last, p));
    last = p;
  }
  chunks.push(data.subarray(last));
  return chunks;
}

describe("RESP requests", () => {
  it("decodes a multibulk request; short ASCII arguments become strings, others stay bytes", () => {
    const items = decode([resp(["SET", "key", Buffer.from([0, 255, 10, 13])])]);
    assert.equal(items.length, 1);
    const argv = items[0] as (string | Buffer)[];
    assert.deepEqual(argv.slice(0, 2), ["SET", "key"]);
    assert.ok(Buffer.isBuffer(argv[2]));
    assert.deepEqual([...(argv[2] as Buffer)], [0, 255, 10, 13]);
  });

  it("accepts inline commands between RESP requests, as Redis does", () => {
    const items = decode([Buffer.concat([resp(["PING"]), Buffer.from("PING inline\r\n"), resp(["GET", "k"])])]);
    assert.deepEqual(
      items.map(wordsOrError),
      [["PING"], ["PING", "inline"], ["GET", "k"]],
    );
  });

  it("ignores *0 and *-1, as Redis does", () => {
    assert.deepEqual(decode([Buffer.from("*0\r\n*-1\r\n"), resp(["PING"])]).length, 1);
  });

  for (const [name, bytes, message] of [
    ["a bad multibulk length", "*x\r\n", "invalid multibulk length"],
    ["too many arguments", "*2000\r\n", "invalid multibulk length"],
    ["a missing $", "*1\r\n:4\r\n", "expected '$', got ':'"],
    ["a bad bulk length", "*1\r\n$-5\r\n", "invalid bulk length"],
    ["a bulk over the limit", `*1\r\n$${(1 << 20) + 1}\r\n`, "invalid bulk length"],
    ["a bulk without its CRLF", "*1\r\n$1\r\nab\r\n", "expected CRLF after bulk string"],
    ["a giant number", `*${"9".repeat(40)}\r\n`, "invalid multibulk length"],
  ] as const) {
    it(`answers ${name} with a protocol error and stops`, () => {
      const decoder = new RequestDecoder("resp", LIMITS);
      const out: ParsedItem[] = [];
      decoder.push(Buffer.concat([resp(["PING"]), Buffer.from(bytes)]), out);
      assert.deepEqual(out[0], ["PING"]);
      assert.deepEqual(out[1], { error: `Protocol error: ${message}`, close: true });
      assert.equal(decoder.poisoned, true);
      decoder.push(resp(["PING"]), out);
      assert.equal(out.length, 2, "nothing is decoded after a fatal error");
    });
  }

  it("waits for a large bulk body without re-parsing it on every chunk, and holds only what it must", () => {
    const value = Buffer.alloc(200_000, 7);
    const data = resp(["SET", "k", value]);
    const chunks = cut(data, Array.from({ length: 200 }, (_, i) => (i + 1) * 1000));
    const decoder = new RequestDecoder("resp", LIMITS);
    const out: ParsedItem[] = [];
    for (const chunk of chunks) {
      decoder.push(chunk, out);
      assert.ok(decoder.buffered <= data.length);
    }
    assert.equal(out.length, 1);
    assert.equal(decoder.buffered, 0);
    assert.ok(value.equals((out[0] as Buffer[])[2]!));
  });
});

describe("inline requests", () => {
  it("splits like redis-cli and reports unbalanced quotes without closing", () => {
    const items = decode([Buffer.from('set q "a b"\r\nget \'x\r\nping\n')], "text");
    assert.deepEqual(items, [
      ["set", "q", "a b"],
      { error: "Protocol error: unbalanced quotes", close: false },
      ["ping"],
    ]);
  });

  it("in text mode a leading * is just a word", () => {
    assert.deepEqual(decode([Buffer.from("*1\r\n")], "text"), [["*1"]]);
  });

  it("refuses a line over the limit, complete or still arriving", () => {
    const long = Buffer.alloc(1025, 0x61);
    assert.deepEqual(decode([long, Buffer.from("\r\n")], "text").at(-1), { error: "Protocol error: too big inline request", close: true });
    const decoder = new RequestDecoder("text", LIMITS);
    const out: ParsedItem[] = [];
    decoder.push(Buffer.alloc(600, 0x61), out);
    decoder.push(Buffer.alloc(600, 0x61), out);
    assert.deepEqual(out, [{ error: "Protocol error: too big inline request", close: true }]);
    assert.equal(decoder.buffered, 0);
  });

  it("accepts a line of exactly the limit, with CRLF", () => {
    const line = Buffer.concat([Buffer.alloc(1024, 0x61), Buffer.from("\r\n")]);
    assert.equal((decode([line], "text")[0] as string[])[0]!.length, 1024);
  });
});

describe("properties", () => {
  const argBytes = fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.string({ maxLength: 20 }).map((s) => new Uint8Array(Buffer.from(s))));
  const request = fc.array(argBytes, { minLength: 1, maxLength: 6 });

  it("any split of a RESP stream decodes to the same commands", () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (requests, offsets) => {
        const data = Buffer.concat(requests.map((args) => resp(args.map((a) => Buffer.from(a)))));
        const expected = requests.map((args) => args.map((a) => Buffer.from(a)));
        assert.deepEqual(asBytes(decode(cut(data, offsets))), expected);
      }),
      { numRuns: 300 },
    );
  });

  it("arbitrary bytes never throw, and the buffer stays within its bounds", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }), fc.constantFrom<WireFormat>("text", "resp"), (chunks, format) => {
        const limits = { maxLineLength: 256, maxBulkLength: 512, maxArgs: 16 };
        const decoder = new RequestDecoder(format, limits);
        const out: ParsedItem[] = [];
        for (const chunk of chunks) {
          decoder.push(Buffer.from(chunk), out);
          // An unfinished request is at most one line, or one bulk header plus body.
          assert.ok(decoder.buffered <= limits.maxBulkLength + 300 + 64, `buffered ${decoder.buffered}`);
        }
        for (const item of out) assert.ok(isCommand(item) ? item.length > 0 : String(wordsOrError(item)).startsWith("Protocol error"));
      }),
      { numRuns: 500 },
    );
  });
});

describe("a long multibulk request arriving in many reads", () => {
  it("is read once: only the unfinished argument is held between reads, not the request so far", () => {
    const args = Array.from({ length: 20_000 }, (_, i) => `v${i}`);
    const bytes = resp(["rpush", ...args]);
    const decoder = new RequestDecoder("resp", { ...LIMITS, maxArgs: 100_000 });
    const out: ParsedItem[] = [];
    let mostHeld = 0;
    for (let at = 0; at < bytes.length; at += 100) {
      decoder.push(bytes.subarray(at, at + 100), out);
      mostHeld = Math.max(mostHeld, decoder.buffered);
    }
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], ["rpush", ...args]);
    // An argument here is at most 14 bytes on the wire; a re-parse from the start would hold up to 190 KB.
    assert.ok(mostHeld < 100, `held ${mostHeld} bytes between reads`);
  });

  it("a bulk split across reads right after its length line resumes at that argument", () => {
    const decoder = new RequestDecoder("resp", LIMITS);
    const out: ParsedItem[] = [];
    for (const piece of ["*3\r\n$3\r\nset\r\n$1", "\r\nk\r\n$5\r", "\nhel", "lo\r\n"]) decoder.push(Buffer.from(piece), out);
    assert.deepEqual(out, [["set", "k", "hello"]]);
    assert.equal(decoder.buffered, 0);
  });
});

describe("what outlives a read does not keep the read alive", () => {
  /** One network read of 64 KB (its own allocation, as a socket read is): small values beside a large one, then an unfinished request. */
  function bigRead(): Buffer {
    return Buffer.concat([
      resp(["SET", "key:1", Buffer.alloc(100, "v")]),
      resp(["SET", "key:2", Buffer.from("héllo wörld")]),
      resp(["SET", "scratch", Buffer.alloc(60_000, "s")]),
      Buffer.from("*3\r\n$3\r\nSET\r\n$5\r\nkey:3\r\n$100\r\nvvvv"),
    ]);
  }

  it("a small argument cut from a large read is a copy; a large one stays a view of the read", () => {
    const read = bigRead();
    const out: ParsedItem[] = [];
    new RequestDecoder("resp", LIMITS).push(read, out);
    assert.equal(out.length, 3);
    const [small, nonAscii, large] = out.map((item) => (item as Buffer[])[2]!);
    for (const arg of [small!, nonAscii!]) {
      assert.ok(Buffer.isBuffer(arg));
      assert.notEqual(arg.buffer, read.buffer);
      // A copy: on its own, or in one of Node's 8 KB pool slabs, never the 64 KB read.
      assert.ok(arg.buffer.byteLength <= Buffer.poolSize, `a ${arg.length}-byte argument holds ${arg.buffer.byteLength} bytes`);
    }
    assert.deepEqual(small, Buffer.alloc(100, "v"));
    assert.equal(nonAscii!.toString(), "héllo wörld");
    // Zero-copy where it pins nothing but itself: the value is most of the read.
    assert.equal(large!.buffer, read.buffer);
    assert.equal(large!.length, 60_000);
  });

  it("the unfinished tail of a read is kept without the read", async () => {
    const decoder = new RequestDecoder("resp", LIMITS);
    const out: ParsedItem[] = [];
    let read: Buffer | null = bigRead();
    const parent = new WeakRef(read.buffer);
    decoder.push(read, out);
    assert.equal(out.length, 3);
    out.length = 0; // the commands were run and forgotten
    read = null;
    await new Promise((resolve) => setImmediate(resolve)); // a WeakRef holds its target until the job ends
    gc();
    assert.equal(parent.deref(), undefined, "the 64 KB read is still reachable from the decoder");
    assert.ok(decoder.buffered < 100);
    decoder.push(Buffer.from(`${"v".repeat(96)}\r\n`), out);
    assert.deepEqual(asBytes(out), [[Buffer.from("SET"), Buffer.from("key:3"), Buffer.alloc(100, "v")]]);
  });
});

describe("holdsNothing: when one decoder may serve the next connection's read", () => {
  it("is true between whole requests, false while one is cut off (text or RESP) and once poisoned", () => {
    const decoder = new RequestDecoder("text", LIMITS);
    const out: ParsedItem[] = [];
    assert.equal(decoder.holdsNothing, true, "fresh");
    decoder.push(Buffer.from("ping\r\nset a b\r\n"), out);
    assert.equal(decoder.holdsNothing, true, "both requests were whole");
    decoder.push(Buffer.from("get a"), out);
    assert.equal(decoder.holdsNothing, false, "an inline line without its end");
    decoder.push(Buffer.from("\r\n"), out);
    assert.equal(decoder.holdsNothing, true);
    decoder.format = "resp";
    decoder.push(Buffer.from("*2\r\n$3\r\nget\r\n"), out);
    assert.equal(decoder.holdsNothing, false, "a multibulk request cut between its arguments");
    decoder.push(Buffer.from("$1\r\na\r\n"), out);
    assert.equal(decoder.holdsNothing, true);
    assert.deepEqual(out, [["ping"], ["set", "a", "b"], ["get", "a"], ["get", "a"]]);
    decoder.push(Buffer.from("*x\r\n"), out);
    assert.equal(decoder.poisoned, true);
    assert.equal(decoder.holdsNothing, false, "a poisoned stream stays with its connection");
  });
});
