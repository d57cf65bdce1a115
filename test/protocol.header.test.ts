import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatHeader, parseHeader } from "../src/protocol/header.js";

const parse = (s: string): Record<string, string> => parseHeader(Buffer.from(s));
const plain = (o: Record<string, string>): Record<string, string> => ({ ...o });

describe("parseHeader", () => {
  it("parses the classic dummy header to {}", () => {
    assert.deepEqual(plain(parse("header line")), {});
    assert.deepEqual(plain(parse("h")), {});
    assert.deepEqual(plain(parse("")), {});
  });

  it("lower-cases keys and keeps values verbatim", () => {
    assert.deepEqual(plain(parse("a=1 B=two")), { a: "1", b: "two" });
    assert.deepEqual(plain(parse("Name=MiXed")), { name: "MiXed" });
  });

  it("splits only on the first =, allows empty values, ignores empty keys", () => {
    assert.deepEqual(plain(parse("expr=a=b empty= =nokey")), { expr: "a=b", empty: "" });
  });

  it("supports quoted values", () => {
    assert.deepEqual(plain(parse('name="a b" q=\'x y\' e="\\xe2\\x82\\xac"')), {
      name: "a b",
      q: "x y",
      e: "€",
    });
  });

  it("falls back to a whitespace split when quoting is malformed", () => {
    assert.deepEqual(plain(parse('a=1 b="unterminated c=3')), { a: "1", b: '"unterminated', c: "3" });
  });

  it("lets the last duplicate win", () => {
    assert.deepEqual(plain(parse("a=1 A=2")), { a: "2" });
  });

  it("cannot pollute Object.prototype", () => {
    const h = parse("__proto__=x constructor=y toString=z");
    assert.equal(Object.getPrototypeOf(h), null);
    assert.equal(h["__proto__"], "x");
    assert.equal(h["constructor"], "y");
    assert.equal(h["tostring"], "z");
    assert.equal(({} as Record<string, unknown>)["x"], undefined);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
    assert.equal(typeof ({} as { toString: unknown }).toString, "function");
    assert.deepEqual(Object.keys(h).sort(), ["__proto__", "constructor", "tostring"]);
  });
});

describe("formatHeader", () => {
  it("writes key=value tokens in order, quoting a value with whitespace, quotes or a backslash", () => {
    assert.equal(formatHeader([["proto", "resp3"], ["auth", "alice:s3cret"]]), "proto=resp3 auth=alice:s3cret\r\n");
    assert.equal(formatHeader([["name", "a b"], ["q", 'say "hi"'], ["path", "C:\\x"], ["empty", ""]]), 'name="a b" q="say \\"hi\\"" path="C:\\\\x" empty=\r\n');
    assert.equal(formatHeader([["it", "it's"]]), 'it="it\'s"\r\n');
    assert.equal(formatHeader([]), "\r\n");
  });

  it("is read back by parseHeader as the same fields, whatever the values hold (CR and LF included: one line, always)", () => {
    const key = fc.stringMatching(/^[a-z0-9_.-]{1,12}$/);
    const value = fc.oneof(
      fc.string({ unit: fc.constantFrom(" ", "\t", '"', "'", "\\", "\\x41", "=", "x", "é", "\u{1f600}", "\0", "\v", "\r", "\n", "\r\nquit\r\n", "\x01", "\x7f") }),
      fc.string({ unit: "binary" }),
    );
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, maxLength: 5 }), (fields) => {
        const line = formatHeader(fields);
        assert.ok(line.endsWith("\r\n") && !line.slice(0, -2).includes("\n"));
        assert.deepEqual(plain(parse(line.slice(0, -2))), Object.fromEntries(fields));
      }),
      { numRuns: 500 },
    );
  });

  it("refuses a key that would not read back as itself", () => {
    for (const key of ["", "a b", "a=b", 'a"', "a\\", "a\r\nquit", "a\x00"]) {
      assert.throws(() => formatHeader([[key, "v"]]), TypeError, JSON.stringify(key));
    }
  });
});
