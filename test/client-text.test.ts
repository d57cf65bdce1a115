/**
 * Client text folding: A–Z and nothing else. The fast path (one scan, then the engine's
 * own folding) must agree with the rule itself for every string, Unicode included.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { asciiLowerCase, echoed, ECHO_LIMIT } from "../src/client-text.js";

/** The rule, one character at a time. */
function reference(text: string): string {
  let out = "";
  for (const c of text) out += c >= "A" && c <= "Z" ? String.fromCharCode(c.charCodeAt(0) + 0x20) : c;
  return out;
}

describe("asciiLowerCase", () => {
  it("folds A–Z only, for any string", () => {
    const text = fc.oneof(
      fc.string({ unit: fc.constantFrom("A", "z", "Q", "k", "-", "\u212a", "\u0130", "\u00c9", "ǅ", "1") }),
      fc.string({ unit: "grapheme" }),
      fc.string({ unit: "binary" }),
    );
    fc.assert(fc.property(text, (t) => assert.equal(asciiLowerCase(t), reference(t))), { numRuns: 2000 });
  });

  it("leaves the Kelvin sign, dotted I and other non-ASCII capitals alone", () => {
    assert.equal(asciiLowerCase("BLOC\u212a"), "bloc\u212a");
    assert.equal(asciiLowerCase("\u0130D"), "\u0130d");
    assert.equal(asciiLowerCase("ÉCHO"), "Écho");
  });
});

describe("echoed", () => {
  it("cuts client text to the echo limit", () => {
    assert.equal(echoed("x".repeat(ECHO_LIMIT)), "x".repeat(ECHO_LIMIT));
    assert.equal(echoed("x".repeat(60_000)), `${"x".repeat(ECHO_LIMIT)}...`);
  });
});
