import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { splitArgs, UNBALANCED_QUOTES } from "../src/protocol/split-args.js";
import { quoteArg, quoteArgs } from "../src/protocol/quote-args.js";

const split = (s: string | Uint8Array): string[] | null => splitArgs(Buffer.from(s as string));

describe("splitArgs", () => {
  it("splits bare words on any whitespace", () => {
    assert.deepEqual(split("set  key\tvalue"), ["set", "key", "value"]);
    assert.deepEqual(split("  a\v\fb\r\nc  "), ["a", "b", "c"]);
    assert.deepEqual(split("héllo wörld €"), ["héllo", "wörld", "€"]);
  });

  it("returns [] for an empty or whitespace-only line", () => {
    assert.deepEqual(split(""), []);
    assert.deepEqual(split(" \t\r\n\v\f "), []);
  });

  it("keeps spaces inside quotes", () => {
    assert.deepEqual(split('set q "a b"'), ["set", "q", "a b"]);
    assert.deepEqual(split("set q 'a b'"), ["set", "q", "a b"]);
    assert.deepEqual(split('"a"\t"b"'), ["a", "b"]);
  });

  it("accepts empty quoted arguments", () => {
    assert.deepEqual(split('""'), [""]);
    assert.deepEqual(split("a '' b"), ["a", "", "b"]);
  });

  it("decodes every double-quote escape", () => {
    assert.deepEqual(split('"\\n\\r\\t\\b\\a\\\\\\""'), ["\n\r\t\b\x07\\\""]);
    assert.deepEqual(split('"\\q\\\'\\ "'), ["q' "], "unknown escape yields the char itself");
    assert.deepEqual(split('"\\x41\\x7a\\x7A\\x00"'), ["Azz\0"]);
  });

  it("collects \\xHH as bytes and decodes UTF-8 at the end", () => {
    assert.deepEqual(split('"\\xe2\\x82\\xac"'), ["€"]);
    assert.deepEqual(split('"\\xE2\\x82\\xACx"'), ["€x"]);
  });

  it("treats \\x without two hex digits as a plain x", () => {
    assert.deepEqual(split('"\\x4g"'), ["x4g"]);
    assert.deepEqual(split('"\\x"'), ["x"]);
  });

  it("only honours \\' inside single quotes", () => {
    assert.deepEqual(split("'it\\'s'"), ["it's"]);
    assert.deepEqual(split("'a\\nb\\\\c'"), ["a\\nb\\\\c"]);
    assert.equal(split("'a\\\\'"), null, "\\' at the end is an escaped quote, so unterminated");
    assert.deepEqual(split("'say \"hi\"'"), ['say "hi"']);
  });

  it("lets a quote open in the middle of a bare word, like Redis", () => {
    assert.deepEqual(split('name="a b" x'), ["name=a b", "x"]);
  });

  it("rejects a closing quote followed by a non-space", () => {
    assert.equal(split('"a"b'), null);
    assert.equal(split("'a'b"), null);
    assert.equal(split('x "a""b"'), null);
  });

  it("rejects unterminated quotes", () => {
    assert.equal(split('"abc'), null);
    assert.equal(split("'abc"), null);
    assert.equal(split('"abc\\"'), null);
    assert.equal(split('"abc\\'), null);
    assert.equal(split("'abc\\'"), null);
    assert.equal(split('ok "'), null);
  });

  it("treats NUL and lone CR as ordinary bytes only where they are not whitespace", () => {
    assert.deepEqual(split("a\0b"), ["a\0b"]);
    assert.deepEqual(split('"a\0b"'), ["a\0b"]);
  });

  it("exports the error reply", () => {
    assert.equal(UNBALANCED_QUOTES, "Protocol error: unbalanced quotes");
  });
});

describe("quoteArg", () => {
  it("leaves safe words bare and quotes the rest", () => {
    assert.equal(quoteArg("abc"), "abc");
    assert.equal(quoteArg(""), '""');
    assert.equal(quoteArg("a b"), '"a b"');
    assert.equal(quoteArg("it's"), '"it\'s"');
    assert.equal(quoteArg('a"\\'), '"a\\"\\\\"');
    assert.equal(quoteArg("\n\r\t\x07"), '"\\n\\r\\t\\x07"');
    assert.equal(quoteArg("€"), '"\\xe2\\x82\\xac"');
    assert.equal(quoteArgs(["set", "k", "a b"]), 'set k "a b"');
    assert.equal(quoteArgs([]), "");
  });
});

/** Well-formed strings only: lone surrogates cannot survive UTF-8. */
const nastyChar = fc.constantFrom(" ", '"', "'", "\\", "\\x", "\n", "\r", "\t", "\v", "\f", "\0", "x", "€", "\u{1f600}");
const argArb = fc.oneof(
  fc.string({ unit: "binary-ascii" }),
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: nastyChar }),
);

describe("splitArgs properties", () => {
  it("(a) splitArgs inverts quoteArgs", () => {
    fc.assert(
      fc.property(fc.array(argArb, { maxLength: 8 }), (args) => {
        assert.deepEqual(splitArgs(Buffer.from(quoteArgs(args))), args);
      }),
      { numRuns: 1000 },
    );
  });

  it("(b) arbitrary bytes never throw", () => {
    const bytes = fc.array(
      fc.oneof(fc.constantFrom(0x20, 0x22, 0x27, 0x5c, 0x78, 0x0a, 0x41), fc.integer({ min: 0, max: 255 })),
      { maxLength: 64 },
    );
    fc.assert(
      fc.property(bytes, (arr) => {
        const result = splitArgs(Buffer.from(arr));
        assert.ok(result === null || (Array.isArray(result) && result.every((a) => typeof a === "string")));
      }),
      { numRuns: 1000 },
    );
  });

  it("(c) fast path agrees with the quote-aware path", () => {
    // Appending a quoted token forces the byte-level path over the same bytes.
    const noQuotes = fc
      .uint8Array({ maxLength: 64 })
      .map((a) => Buffer.from(a.filter((x) => x !== 0x22 && x !== 0x27)));
    fc.assert(
      fc.property(noQuotes, (line) => {
        const fast = splitArgs(line);
        const slow = splitArgs(Buffer.concat([line, Buffer.from(' ""')]));
        assert.deepEqual(slow, [...(fast ?? []), ""]);
      }),
      { numRuns: 1000 },
    );
  });
});
