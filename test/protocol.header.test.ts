import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseHeader } from "../src/protocol/header.js";

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
