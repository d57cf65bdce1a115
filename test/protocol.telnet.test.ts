/**
 * The telnet command filter (src/protocol/telnet.ts): it removes IAC sequences however the
 * stream is split between reads, keeps a doubled IAC as one 0xFF, and hands back plain text
 * untouched (the same Buffer, not a copy).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { TelnetFilter } from "../src/protocol/telnet.js";

const IAC = 0xff;

function filterAll(chunks: readonly Buffer[]): Buffer {
  const filter = new TelnetFilter();
  return Buffer.concat(chunks.map((chunk) => filter.filter(chunk)));
}

/** Splits `bytes` at the given cut points. */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const at of points) {
    chunks.push(bytes.subarray(from, at));
    from = at;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

describe("TelnetFilter", () => {
  it("returns text without IAC as the very same buffer", () => {
    const text = Buffer.from("increment a\r\n");
    assert.equal(new TelnetFilter().filter(text), text);
  });

  it("removes commands, option negotiation and subnegotiation; keeps IAC IAC as one 0xFF", () => {
    const input = Buffer.from([
      ...Buffer.from("pi"),
      IAC, 0xf4, // IP (Ctrl-C)
      IAC, 0xfd, 0x06, // DO TIMING-MARK
      ...Buffer.from("ng"),
      IAC, 0xfb, 0x18, // WILL TERMINAL-TYPE
      IAC, 0xfa, 0x18, 0x00, ...Buffer.from("xterm"), IAC, IAC, IAC, 0xf0, // SB ... SE (IAC IAC inside)
      ...Buffer.from(" a"),
      IAC, IAC, // a literal 0xFF
      ...Buffer.from("\r\n"),
    ]);
    assert.deepEqual([...filterAll([input])], [...Buffer.from("ping a"), 0xff, 0x0d, 0x0a]);
  });

  it("gives the same bytes however the stream is split", () => {
    const telnetByte = fc.constantFrom(IAC, 0xf0, 0xf4, 0xfa, 0xfb, 0xfd, 0x06, 0x18, 0x0a, 0x61);
    fc.assert(
      fc.property(fc.array(fc.oneof(telnetByte, fc.integer({ min: 0, max: 255 })), { maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        const stream = Buffer.from(bytes);
        assert.deepEqual(filterAll(split(stream, cuts)), filterAll([stream]));
      }),
      { numRuns: 500 },
    );
  });

  it("never grows the input; any bytes without IAC pass untouched", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const out = filterAll([Buffer.from(bytes)]);
        assert.ok(out.length <= bytes.length);
        // Text that never contains IAC passes untouched.
        const plain = Buffer.from(bytes.filter((b) => b !== IAC));
        assert.deepEqual(filterAll([plain]), plain);
      }),
    );
  });
});

describe("TelnetFilter limits", () => {
  it("an IAC SB that never ends gives the text back after 512 bytes", () => {
    const filter = new TelnetFilter();
    const out = filter.filter(Buffer.concat([Buffer.from([IAC, 0xfa]), Buffer.alloc(600, 0x61), Buffer.from("\r\nping\r\n")]));
    assert.ok(out.toString().endsWith("\r\nping\r\n"), JSON.stringify(out.toString().slice(-20)));
    assert.ok(out.length < 600 - 512 + 10, `kept ${out.length} bytes`);
  });
});
