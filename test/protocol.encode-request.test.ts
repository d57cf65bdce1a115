/**
 * encodeRequest, the one RESP request encoder shared by the client and `app.inject()`: the
 * bytes of a plain `*N $len` array whatever the argument types, and read back unchanged.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeRequest } from "../src/protocol/encode-request.js";
import { RespReader } from "../src/protocol/resp-reader.js";

/** The encoding spelled out one part at a time (what inject.ts used to do on its own). */
function reference(args: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : Buffer.from(arg);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

const argument = fc.oneof(
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary" }),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
  // A view into a larger buffer: only its own bytes may be sent.
  fc.uint8Array({ minLength: 4, maxLength: 40 }).map((bytes) => bytes.subarray(1, bytes.length - 1)),
);

describe("encodeRequest", () => {
  it("encodes strings, numbers, bigints and bytes as bulk strings", () => {
    assert.equal(encodeRequest(["SET", "k", 12, 2n ** 70n]).toString(), "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$22\r\n1180591620717411303424\r\n");
    assert.equal(encodeRequest(["é"]).toString("latin1"), "*1\r\n$2\r\n\xc3\xa9\r\n");
    assert.deepEqual(encodeRequest(["ECHO", Buffer.from([0, 13, 10, 255])]), Buffer.from("*2\r\n$4\r\nECHO\r\n$4\r\n\x00\r\n\xff\r\n", "latin1"));
    assert.equal(encodeRequest([]).toString(), "*0\r\n");
  });

  it("gives the same bytes as the part-by-part encoding, for any arguments", () => {
    fc.assert(
      fc.property(fc.array(argument, { maxLength: 8 }), (args) => {
        assert.deepEqual(encodeRequest(args), reference(args));
      }),
    );
  });

  it("reads back as the same arguments", () => {
    fc.assert(
      fc.property(fc.array(argument, { minLength: 1, maxLength: 8 }), (args) => {
        const reader = new RespReader({ buffers: true });
        reader.push(encodeRequest(args));
        const frame = reader.next();
        assert.deepEqual(
          frame?.value,
          args.map((arg) => (typeof arg === "string" ? Buffer.from(arg, "utf8") : Buffer.from(arg))),
        );
        assert.equal(reader.next(), undefined);
      }),
    );
  });
});
