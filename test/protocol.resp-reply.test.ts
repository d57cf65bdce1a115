import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { respReplyEncoder, resp2ReplyEncoder, resp3ReplyEncoder } from "../src/protocol/resp-reply.js";
import { ReplyOutput } from "../src/protocol/reply-output.js";
import { type ReplyEncoder, type ReplyValue, Status, Verbatim, status, verbatim } from "../src/reply.js";
import { UnsupportedReplyError } from "../src/reply-support.js";
import { decodeReplies, decodeReply, RespDecodeError, type RespValue } from "./resp-decoder.js";

type Version = 2 | 3;

/** Everything the encoder appended, as the bytes a socket would send. */
function drain(out: ReplyOutput): Buffer {
  const taken = out.take();
  const chunks = Array.isArray(taken) ? taken : [taken];
  return Buffer.concat(chunks.map((chunk) => (typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk)));
}

function encodeValues(version: Version, values: readonly ReplyValue[]): Buffer {
  const out = new ReplyOutput();
  respReplyEncoder(version).encodeValues(values, out);
  return drain(out);
}

/** One value, as a command that called `write(value)` once. */
function enc(version: Version, value: ReplyValue): string {
  return encodeValues(version, [value]).toString("latin1");
}

/** Asserts the exact bytes for RESP3 and RESP2 (latin1, so each char is one byte). */
function both(value: ReplyValue, resp3: string, resp2: string): void {
  assert.equal(enc(3, value), resp3, "RESP3");
  assert.equal(enc(2, value), resp2, "RESP2");
}

function same(value: ReplyValue, bytes: string): void {
  both(value, bytes, bytes);
}

/** `s` as the latin1 view of its UTF-8 bytes, to compare with {@link enc}. */
const utf8 = (s: string): string => Buffer.from(s, "utf8").toString("latin1");

describe("respReplyEncoder", () => {
  it("caches one encoder per version", () => {
    assert.equal(respReplyEncoder(3), resp3ReplyEncoder);
    assert.equal(respReplyEncoder(2), resp2ReplyEncoder);
    assert.equal(respReplyEncoder(3), respReplyEncoder(3));
    assert.notEqual(resp2ReplyEncoder, resp3ReplyEncoder);
  });
});

describe("status()", () => {
  it("shares one immutable Status per text, so a reply costs no allocation", () => {
    assert.equal(status("OK"), status("OK"));
    assert.notEqual(status("OK"), status("QUEUED"));
    assert.equal(status("OK").line, "+OK\r\n");
  });

  it("refuses CR and LF, with or without the cache", () => {
    assert.throws(() => status("a\r\nb"), TypeError);
    assert.throws(() => new Status("a\nb"), TypeError);
  });

  it("gives the right status for ever-changing text, past the size of the cache", () => {
    for (let i = 0; i < 5000; i++) assert.equal(status(`N${i}`).text, `N${i}`);
    assert.equal(status("N4999").line, "+N4999\r\n");
  });
});

describe("RESP strings", () => {
  it("sends a string as a bulk string with its UTF-8 byte length", () => {
    same("hello", "$5\r\nhello\r\n");
    same("", "$0\r\n\r\n");
    same("héllo €", utf8("$10\r\nhéllo €\r\n"));
    same("🐱", utf8("$4\r\n🐱\r\n"));
    same("a".repeat(100) + "é", utf8(`$102\r\n${"a".repeat(100)}é\r\n`));
  });

  it("keeps CR and LF inside a bulk string", () => {
    same("a\r\nb", "$4\r\na\r\nb\r\n");
    same("\n", "$1\r\n\n\r\n");
  });

  it("sends a lone surrogate as U+FFFD and counts its three bytes", () => {
    same("\ud800", "$3\r\n\xef\xbf\xbd\r\n");
  });

  it('sends a "+text" string as a bulk string too (only a Status is a simple string)', () => {
    same("+OK", "$3\r\n+OK\r\n");
    same("+PONG", "$5\r\n+PONG\r\n");
    same("+1", "$2\r\n+1\r\n");
    same("+", "$1\r\n+\r\n");
    same("+é", utf8("$3\r\n+é\r\n"));
  });

  it('sends a "+text" string with CR or LF as a bulk string', () => {
    same("+a\nb", "$4\r\n+a\nb\r\n");
    same("+a\rb", "$4\r\n+a\rb\r\n");
    same("+OK\r\n", "$5\r\n+OK\r\n\r\n");
  });

  it('does not treat "-text" or " +text" as special', () => {
    same("-ERR x", "$6\r\n-ERR x\r\n");
    same(" +OK", "$4\r\n +OK\r\n");
  });

  it("sends a Status as a simple string", () => {
    same(status("OK"), "+OK\r\n");
    same(new Status(""), "+\r\n");
    same(status("QUEUED é"), utf8("+QUEUED é\r\n"));
  });
});

describe("RESP numbers", () => {
  it("sends safe integers as integers", () => {
    same(0, ":0\r\n");
    same(-0, ":0\r\n");
    same(42, ":42\r\n");
    same(-7, ":-7\r\n");
    same(Number.MAX_SAFE_INTEGER, ":9007199254740991\r\n");
    same(Number.MIN_SAFE_INTEGER, ":-9007199254740991\r\n");
  });

  it("sends other numbers as RESP3 doubles and RESP2 bulk strings", () => {
    both(1.5, ",1.5\r\n", "$3\r\n1.5\r\n");
    both(-0.1, ",-0.1\r\n", "$4\r\n-0.1\r\n");
    both(2 ** 53, ",9007199254740992\r\n", "$16\r\n9007199254740992\r\n");
    both(1e21, ",1e+21\r\n", "$5\r\n1e+21\r\n");
    both(5e-324, ",5e-324\r\n", "$6\r\n5e-324\r\n");
  });

  it("spells Infinity and NaN as inf, -inf and nan", () => {
    both(Infinity, ",inf\r\n", "$3\r\ninf\r\n");
    both(-Infinity, ",-inf\r\n", "$4\r\n-inf\r\n");
    both(NaN, ",nan\r\n", "$3\r\nnan\r\n");
  });

  it("sends bigints within int64 as integers", () => {
    same(0n, ":0\r\n");
    same(2n ** 63n - 1n, ":9223372036854775807\r\n");
    same(-(2n ** 63n), ":-9223372036854775808\r\n");
  });

  it("sends bigints outside int64 as RESP3 big numbers and RESP2 bulk strings", () => {
    both(2n ** 63n, "(9223372036854775808\r\n", "$19\r\n9223372036854775808\r\n");
    both(-(2n ** 63n) - 1n, "(-9223372036854775809\r\n", "$20\r\n-9223372036854775809\r\n");
  });
});

describe("RESP booleans and null", () => {
  it("sends booleans as RESP3 #t/#f and RESP2 :1/:0", () => {
    both(true, "#t\r\n", ":1\r\n");
    both(false, "#f\r\n", ":0\r\n");
  });

  it("sends null and undefined as RESP3 _ and RESP2 $-1", () => {
    both(null, "_\r\n", "$-1\r\n");
    both(undefined, "_\r\n", "$-1\r\n");
  });
});

describe("RESP binary values", () => {
  it("sends Uint8Array and Buffer bytes unchanged", () => {
    const bytes = new Uint8Array([0, 0xff, 0x0d, 0x0a, 0x80, 0x41]);
    same(bytes, "$6\r\n\x00\xff\r\n\x80A\r\n");
    same(Buffer.from(bytes), "$6\r\n\x00\xff\r\n\x80A\r\n");
    same(new Uint8Array(0), "$0\r\n\r\n");
  });

  it("honours a view's offset and length", () => {
    const backing = new Uint8Array([1, 2, 3, 4, 5]);
    same(backing.subarray(1, 3), "$2\r\n\x02\x03\r\n");
  });

  it("hands the raw bytes to ReplyOutput.bytes (no UTF-8 round trip)", () => {
    const out = new ReplyOutput();
    const payload = Buffer.from([0xc3, 0x28]); // invalid UTF-8
    resp3ReplyEncoder.encodeValues([payload], out);
    const taken = out.take();
    assert.ok(Array.isArray(taken));
    assert.deepEqual(taken, ["$2\r\n", payload, "\r\n"]);
  });
});

describe("RESP errors", () => {
  it("sends an Error as -ERR message", () => {
    same(new Error("boom"), "-ERR boom\r\n");
    same(new TypeError("bad type"), "-ERR bad type\r\n");
    same(new Error(""), "-ERR\r\n");
  });

  it("replaces CR and LF in the message by spaces", () => {
    same(new Error("a\r\nb\nc\rd"), "-ERR a b c d\r\n");
  });

  it("uses an uppercase string code property as the error code", () => {
    same(Object.assign(new Error("Operation against a key"), { code: "WRONGTYPE" }), "-WRONGTYPE Operation against a key\r\n");
    same(Object.assign(new Error("x"), { code: "NO_AUTH2" }), "-NO_AUTH2 x\r\n");
  });

  it("ignores a code that is not an uppercase word", () => {
    same(Object.assign(new Error("x"), { code: "wrongtype" }), "-ERR x\r\n");
    same(Object.assign(new Error("x"), { code: "BAD CODE" }), "-ERR x\r\n");
    same(Object.assign(new Error("x"), { code: "1ERR" }), "-ERR x\r\n");
    same(Object.assign(new Error("x"), { code: 42 }), "-ERR x\r\n");
    same(Object.assign(new Error("x"), { code: "ERR\r\n" }), "-ERR x\r\n");
  });

  it("encodeError writes -CODE message", () => {
    for (const version of [2, 3] as const) {
      const out = new ReplyOutput();
      const encoder = respReplyEncoder(version);
      encoder.encodeError({ code: "NOPROTO", message: "unsupported protocol version" }, out);
      encoder.encodeError({ code: "ERR", message: "line\r\nbreak\nhere" }, out);
      encoder.encodeError({ code: "ERR", message: "" }, out);
      encoder.encodeError({ code: "", message: "no code" }, out);
      encoder.encodeError({ code: "X\r\n", message: "y" }, out);
      assert.equal(
        drain(out).toString("latin1"),
        "-NOPROTO unsupported protocol version\r\n-ERR line break here\r\n-ERR\r\n-ERR no code\r\n-X  y\r\n",
      );
    }
  });
});

describe("RESP verbatim strings", () => {
  it("sends RESP3 =len with the format, and a RESP2 bulk string", () => {
    both(verbatim("hello"), "=9\r\ntxt:hello\r\n", "$5\r\nhello\r\n");
    both(new Verbatim("# T", "mkd"), "=7\r\nmkd:# T\r\n", "$3\r\n# T\r\n");
    both(verbatim(""), "=4\r\ntxt:\r\n", "$0\r\n\r\n");
  });

  it("counts UTF-8 bytes and keeps line breaks", () => {
    both(verbatim("é\r\nx"), utf8("=9\r\ntxt:é\r\nx\r\n"), utf8("$5\r\né\r\nx\r\n"));
  });

  it("falls back to txt when the format is not three bytes", () => {
    const odd = new Verbatim("x", "markdown" as "mkd");
    assert.equal(enc(3, odd), "=5\r\ntxt:x\r\n");
  });
});

describe("RESP aggregates", () => {
  it("sends arrays as *N", () => {
    same([], "*0\r\n");
    same([1, "a", "+OK"], "*3\r\n:1\r\n$1\r\na\r\n$3\r\n+OK\r\n");
    same([1, status("OK")], "*2\r\n:1\r\n+OK\r\n");
    both([null, true], "*2\r\n_\r\n#t\r\n", "*2\r\n$-1\r\n:1\r\n");
  });

  it("nests arrays", () => {
    same([[1, [2]], []], "*2\r\n*2\r\n:1\r\n*1\r\n:2\r\n*0\r\n");
  });

  it("sends sets as RESP3 ~N and RESP2 *N", () => {
    both(new Set(["a", 2]), "~2\r\n$1\r\na\r\n:2\r\n", "*2\r\n$1\r\na\r\n:2\r\n");
    both(new Set(), "~0\r\n", "*0\r\n");
  });

  it("sends maps as RESP3 %N and RESP2 flattened *2N", () => {
    const map = new Map<string | number, ReplyValue>([
      ["name", "retopy"],
      [7, 1.5],
    ]);
    both(map, "%2\r\n$4\r\nname\r\n$6\r\nretopy\r\n:7\r\n,1.5\r\n", "*4\r\n$4\r\nname\r\n$6\r\nretopy\r\n:7\r\n$3\r\n1.5\r\n");
    both(new Map(), "%0\r\n", "*0\r\n");
  });

  it("sends string map keys and values as bulk strings, even +text", () => {
    both(new Map([["+k", "+v"]]), "%1\r\n$2\r\n+k\r\n$2\r\n+v\r\n", "*2\r\n$2\r\n+k\r\n$2\r\n+v\r\n");
    both({ "+k": "+v" }, "%1\r\n$2\r\n+k\r\n$2\r\n+v\r\n", "*2\r\n$2\r\n+k\r\n$2\r\n+v\r\n");
    both(new Map([["+k", status("v")]]), "%1\r\n$2\r\n+k\r\n+v\r\n", "*2\r\n$2\r\n+k\r\n+v\r\n");
  });

  it("sends plain objects (and null-prototype objects) as maps", () => {
    both({ a: 1, b: [true] }, "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*1\r\n#t\r\n", "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*1\r\n:1\r\n");
    const bare = Object.create(null) as Record<string, ReplyValue>;
    bare["k"] = null;
    both(bare, "%1\r\n$1\r\nk\r\n_\r\n", "*2\r\n$1\r\nk\r\n$-1\r\n");
    both({}, "%0\r\n", "*0\r\n");
  });

  it("refuses other objects (even with a toString of their own) instead of sending String(value)", () => {
    class Point {
      toString(): string {
        return "(1, 2)";
      }
    }
    for (const value of [new Point(), new Date(0), new Int16Array([1])]) {
      for (const version of [2, 3] as const) {
        assert.throws(() => enc(version, value as unknown as ReplyValue), UnsupportedReplyError);
      }
    }
  });

  it("sends nested scalars inside aggregates with the same rules", () => {
    both(
      { m: new Map([["s", new Set([verbatim("v"), 2n ** 64n])]]) },
      "%1\r\n$1\r\nm\r\n%1\r\n$1\r\ns\r\n~2\r\n=5\r\ntxt:v\r\n(18446744073709551616\r\n",
      "*2\r\n$1\r\nm\r\n*2\r\n$1\r\ns\r\n*2\r\n$1\r\nv\r\n$20\r\n18446744073709551616\r\n",
    );
  });

  it("keeps raw bytes in place inside aggregates", () => {
    same(["a", Buffer.from([0xff]), "b"], "*3\r\n$1\r\na\r\n$1\r\n\xff\r\n$1\r\nb\r\n");
  });
});

describe("encodeValues", () => {
  it("sends one value as itself", () => {
    assert.equal(encodeValues(3, ["+OK"]).toString(), "$3\r\n+OK\r\n");
    assert.equal(encodeValues(3, [status("OK")]).toString(), "+OK\r\n");
  });

  it("sends several writes as one array (one reply per command)", () => {
    both(["a", 1] as unknown as ReplyValue, "*2\r\n$1\r\na\r\n:1\r\n", "*2\r\n$1\r\na\r\n:1\r\n");
    assert.equal(encodeValues(3, ["a", 1]).toString(), "*2\r\n$1\r\na\r\n:1\r\n");
    assert.equal(encodeValues(2, [status("OK"), null, [1]]).toString(), "*3\r\n+OK\r\n$-1\r\n*1\r\n:1\r\n");
    assert.equal(encodeValues(2, ["+OK", null, [1]]).toString(), "*3\r\n$3\r\n+OK\r\n$-1\r\n*1\r\n:1\r\n");
  });

  it("sends a null when nothing was written", () => {
    assert.equal(encodeValues(3, []).toString(), "_\r\n");
    assert.equal(encodeValues(2, []).toString(), "$-1\r\n");
  });

  it("appends to what the output already holds", () => {
    const out = new ReplyOutput();
    resp3ReplyEncoder.encodeValues([status("OK")], out);
    resp3ReplyEncoder.encodeValues([1], out);
    resp3ReplyEncoder.encodeError({ code: "ERR", message: "x" }, out);
    assert.equal(out.take(), "+OK\r\n:1\r\n-ERR x\r\n");
  });
});

describe("encodePush", () => {
  it("sends RESP3 >N and RESP2 *N", () => {
    const push = (encoder: ReplyEncoder): string => {
      const out = new ReplyOutput();
      encoder.encodePush(["message", "news", Buffer.from("hi")], out);
      return drain(out).toString("latin1");
    };
    assert.equal(push(resp3ReplyEncoder), ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
    assert.equal(push(resp2ReplyEncoder), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
  });
});

describe("test decoder (sanity)", () => {
  it("decodes every type and RESP2 nils", () => {
    const wire = Buffer.from(
      "+OK\r\n-ERR x\r\n:-3\r\n$2\r\nab\r\n$-1\r\n*-1\r\n_\r\n#f\r\n,1e+21\r\n,-inf\r\n(123\r\n!3\r\nERR\r\n=6\r\nmkd:hi\r\n~1\r\n:1\r\n>1\r\n:2\r\n%1\r\n:1\r\n:2\r\n",
    );
    assert.deepEqual(decodeReplies(wire), [
      { t: "simple", v: "OK" },
      { t: "error", v: "ERR x" },
      { t: "int", v: -3n },
      { t: "bulk", v: Buffer.from("ab") },
      { t: "null" },
      { t: "null" },
      { t: "null" },
      { t: "bool", v: false },
      { t: "double", v: 1e21 },
      { t: "double", v: -Infinity },
      { t: "big", v: 123n },
      { t: "error", v: "ERR" },
      { t: "verbatim", fmt: "mkd", v: "hi" },
      { t: "set", v: [{ t: "int", v: 1n }] },
      { t: "push", v: [{ t: "int", v: 2n }] },
      { t: "map", v: [[{ t: "int", v: 1n }, { t: "int", v: 2n }]] },
    ]);
  });

  it("rejects incomplete, malformed and version-mismatched input", () => {
    for (const bad of ["+OK", "+OK\n", "+O\nK\r\n", "$3\r\nab\r\n", "$2\r\nabc\r\n", ":1.5\r\n", ":+1\r\n", "*2\r\n:1\r\n", "#x\r\n", ",1e\r\n", "?\r\n", "$-2\r\n"]) {
      assert.throws(() => decodeReplies(Buffer.from(bad)), RespDecodeError, JSON.stringify(bad));
    }
    assert.throws(() => decodeReplies(Buffer.from("_\r\n"), { version: 2 }), RespDecodeError);
    assert.throws(() => decodeReply(Buffer.from(":1\r\n:2\r\n")), RespDecodeError);
  });
});

// ---------------------------------------------------------------------------------------
// Properties: encode, decode with the independent test decoder, compare with toExpected.
// ---------------------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const bulkOf = (text: string): RespValue => ({ t: "bulk", v: Buffer.from(text, "utf8") });

/** RESP3 spelling of a non-integer number (RESP2 sends the same text as a bulk string). */
function doubleText(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Infinity) return "inf";
  if (n === -Infinity) return "-inf";
  return String(n);
}

/**
 * What the decoder should give back for `value` encoded in `version`: the encoding rules
 * written out once more, case by case, independently of src/.
 */
function toExpected(value: ReplyValue, version: Version): RespValue {
  const v3 = version === 3;
  if (value === null || value === undefined) return { t: "null" };
  // Every string is a bulk string, "+text" included; only a Status is a simple string.
  if (typeof value === "string") return bulkOf(value);
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) return { t: "int", v: BigInt(value) };
    return v3 ? { t: "double", v: value } : bulkOf(doubleText(value));
  }
  if (typeof value === "bigint") {
    if (value >= INT64_MIN && value <= INT64_MAX) return { t: "int", v: value };
    return v3 ? { t: "big", v: value } : bulkOf(String(value));
  }
  if (typeof value === "boolean") {
    return v3 ? { t: "bool", v: value } : { t: "int", v: value ? 1n : 0n };
  }
  if (value instanceof Uint8Array) return { t: "bulk", v: Buffer.from(value) };
  if (value instanceof Status) return { t: "simple", v: value.text };
  if (value instanceof Error) {
    const message = value.message.replace(/\r\n|[\r\n]/g, " ");
    return { t: "error", v: message === "" ? "ERR" : `ERR ${message}` };
  }
  if (value instanceof Verbatim) return v3 ? { t: "verbatim", fmt: value.format, v: value.text } : bulkOf(value.text);
  if (Array.isArray(value)) return { t: "array", v: (value as readonly ReplyValue[]).map((item) => toExpected(item, version)) };
  if (value instanceof Set) {
    const items = [...(value as ReadonlySet<ReplyValue>)].map((item) => toExpected(item, version));
    return v3 ? { t: "set", v: items } : { t: "array", v: items };
  }
  const entries: [string | number, ReplyValue][] =
    value instanceof Map ? [...(value as ReadonlyMap<string | number, ReplyValue>)] : Object.entries(value as Record<string, ReplyValue>);
  // String keys are always bulk strings; number keys follow the number rule.
  const pairs = entries.map(([key, item]): [RespValue, RespValue] => [
    typeof key === "string" ? bulkOf(key) : toExpected(key, version),
    toExpected(item, version),
  ]);
  return v3 ? { t: "map", v: pairs } : { t: "array", v: pairs.flat() };
}

// Strings: any code point (astral ones included; fast-check never emits lone surrogates,
// a unit test covers those), control chars and CR/LF,
// and "+..." strings, which must stay bulk strings (only a Status is a simple string).
const anyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ unit: "binary-ascii", maxLength: 12 }),
  fc.string({ unit: fc.constantFrom("\r", "\n", "a", "+", " "), maxLength: 6 }),
  fc.string({ unit: "grapheme", maxLength: 6 }).map((s) => `+${s}`),
);

const scalar: fc.Arbitrary<ReplyValue> = fc.oneof(
  anyString,
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 53, 1e21, 5e-324, -1.5),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  fc.uint8Array({ maxLength: 16 }),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.string({ unit: "grapheme", maxLength: 8 }).filter((s) => !/[\r\n]/.test(s)).map(status),
  fc.tuple(anyString, fc.constantFrom("txt" as const, "mkd" as const)).map(([text, format]) => verbatim(text, format)),
  anyString.map((message) => new Error(message)),
);

const { reply } = fc.letrec<{ reply: ReplyValue }>((tie) => ({
  reply: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("reply"), { maxLength: 4 }),
    fc.array(tie("reply"), { maxLength: 4 }).map((items) => new Set(items)),
    fc.array(fc.tuple(anyString, tie("reply")), { maxLength: 4 }).map((entries) => new Map(entries)),
    fc.dictionary(anyString, tie("reply"), { maxKeys: 4 }),
  ),
}));

describe("RESP properties", () => {
  for (const version of [3, 2] as const) {
    it(`RESP${version}: decode(encode(value)) is toExpected(value, ${version}), consuming every byte`, () => {
      fc.assert(
        fc.property(reply, (value) => {
          // decodeReplies throws on leftover bytes and on any CR or LF outside a
          // length-prefixed payload, and (for RESP2) on any RESP3-only type.
          const replies = decodeReplies(encodeValues(version, [value]), { version });
          assert.deepEqual(replies, [toExpected(value, version)]);
        }),
        { numRuns: 400 },
      );
    });

    it(`RESP${version}: several writes are exactly one reply, an array of them`, () => {
      fc.assert(
        fc.property(fc.array(reply, { minLength: 1, maxLength: 5 }), (values) => {
          const replies = decodeReplies(encodeValues(version, values), { version });
          assert.equal(replies.length, 1);
          const expected = values.length === 1 ? toExpected(values[0], version) : toExpected(values, version);
          assert.deepEqual(replies[0], expected);
        }),
        { numRuns: 200 },
      );
    });

    it(`RESP${version}: pushes and errors decode to one well-formed reply each`, () => {
      fc.assert(
        fc.property(fc.array(reply, { maxLength: 4 }), anyString, anyString, (values, code, message) => {
          const out = new ReplyOutput();
          const encoder = respReplyEncoder(version);
          encoder.encodePush(values, out);
          encoder.encodeError({ code, message }, out);
          const [push, error, ...rest] = decodeReplies(drain(out), { version });
          assert.equal(rest.length, 0);
          const items = values.map((item) => toExpected(item, version));
          assert.deepEqual(push, version === 3 ? { t: "push", v: items } : { t: "array", v: items });
          assert.equal(error?.t, "error");
        }),
        { numRuns: 200 },
      );
    });
  }
});
