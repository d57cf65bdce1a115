/**
 * The text protocol's replies cannot be forged: for every value the encoder accepts, the
 * output is exactly the CRLF-terminated lines the value's shape says (one per scalar, one per
 * list item, one per map entry, one per push), with no bare CR or LF anywhere; and a value
 * shown quoted reads back, through splitArgs, as the bytes it was.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ReplyOutput } from "../src/protocol/reply-output.js";
import { splitArgs } from "../src/protocol/split-args.js";
import { textReplyEncoder } from "../src/protocol/text-reply.js";
import { type ReplyValue, status, Verbatim } from "../src/reply.js";

function render(write: (out: ReplyOutput) => void): string {
  const out = new ReplyOutput();
  write(out);
  const taken = out.take();
  return (Array.isArray(taken) ? taken : [taken]).map((chunk) => (typeof chunk === "string" ? chunk : chunk.toString("latin1"))).join("");
}

/** The lines of `text`, which must be CRLF-terminated with no CR or LF anywhere else. */
function lines(text: string): string[] {
  assert.ok(text.endsWith("\r\n"), `not CRLF-terminated: ${JSON.stringify(text)}`);
  const parts = text.slice(0, -2).split("\r\n");
  for (const part of parts) assert.ok(!part.includes("\r") && !part.includes("\n"), `a bare CR or LF in ${JSON.stringify(text)}`);
  return parts;
}

/** How many lines the value's shape asks for. */
function expectedLines(value: ReplyValue): number {
  if (Array.isArray(value)) return value.length === 0 ? 1 : value.reduce((n: number, item: ReplyValue) => n + expectedLines(item), 0);
  if (value instanceof Set) return value.size === 0 ? 1 : [...value].reduce((n: number, item) => n + expectedLines(item as ReplyValue), 0);
  if (value instanceof Map) return Math.max(1, value.size);
  if (value instanceof Verbatim) return value.text.split(/\r\n|\n|\r/).length;
  if (value !== null && typeof value === "object" && [Object.prototype, null].includes(Object.getPrototypeOf(value))) return Math.max(1, Object.keys(value).length);
  return 1;
}

const hostileText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ unit: fc.constantFrom("\r", "\n", "\r\n", "+OK", "-ERR x", '"', "\\", "\x1b[2J", "\u2028", "\u0085", "\0", "a", " ", "é"), maxLength: 6 }),
);
const scalar: fc.Arbitrary<ReplyValue> = fc.oneof(
  hostileText,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 16 }).map((bytes) => Buffer.from(bytes)),
  hostileText.map((message) => new Error(message)),
  hostileText.map((text) => new Verbatim(text)),
  fc.constantFrom(status("OK"), status("PONG")),
);
const value: fc.Arbitrary<ReplyValue> = fc.letrec<{ value: ReplyValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.array(tie("value"), { maxLength: 3 }).map((items) => new Set(items)),
    fc.array(fc.tuple(hostileText, tie("value")), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.dictionary(hostileText, tie("value"), { maxKeys: 3 }),
  ),
})).value;

describe("text replies", () => {
  it("are exactly the lines the value's shape says, for every value", () => {
    fc.assert(
      fc.property(value, (v) => {
        assert.equal(lines(render((out) => textReplyEncoder.encodeValue(v, out))).length, expectedLines(v));
      }),
      { numRuns: 3000 },
    );
  });

  it("several writes of one command: the lines of each, in order", () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (values) => {
        const expected = values.reduce((n: number, v) => n + expectedLines(v), 0);
        assert.equal(lines(render((out) => textReplyEncoder.encodeValues(values, out))).length, expected);
      }),
      { numRuns: 1000 },
    );
  });

  it("a push and an error are one line each", () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 4 }), hostileText, (values, message) => {
        assert.equal(lines(render((out) => textReplyEncoder.encodePush(values, out))).length, 1);
        assert.equal(lines(render((out) => textReplyEncoder.encodeError({ code: "ERR", message }, out))).length, 1);
      }),
      { numRuns: 1000 },
    );
  });

  it("a string shown quoted reads back through splitArgs as the same bytes; one shown bare is unchanged", () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        const [line] = lines(render((out) => textReplyEncoder.encodeValue(text, out)));
        const bytes = Buffer.from(text, "utf8");
        const shown = Buffer.from(line!, "latin1");
        if (!line!.startsWith('"')) {
          assert.equal(Buffer.from(line!, "utf8").toString("utf8"), text, "shown bare but changed");
          return;
        }
        const back = splitArgs(shown);
        assert.ok(back !== null && back.length === 1, `not one argument: ${JSON.stringify(line)}`);
        assert.ok(Buffer.from(back[0]!, "utf8").equals(bytes), `${JSON.stringify(line)} read back as ${JSON.stringify(back[0])}`);
      }),
      { numRuns: 3000 },
    );
  });

  it("plain text, numbers and statuses are shown as they are (the telnet session's replies)", () => {
    assert.equal(render((out) => textReplyEncoder.encodeValue(1, out)), "1\r\n");
    assert.equal(render((out) => textReplyEncoder.encodeValue("authorized to run this command", out)), "authorized to run this command\r\n");
    assert.equal(render((out) => textReplyEncoder.encodeValue("héllo wörld", out)), "héllo wörld\r\n");
    assert.equal(render((out) => textReplyEncoder.encodeValue(status("OK"), out)), "+OK\r\n");
    assert.equal(render((out) => textReplyEncoder.encodeError({ code: "ERR", message: "a Not found" }, out)), "-ERR a Not found\r\n");
  });

  it("control characters and a leading quote are shown as redis-cli shows them", () => {
    assert.equal(render((out) => textReplyEncoder.encodeValue("v\r\n+OK", out)), '"v\\r\\n+OK"\r\n');
    assert.equal(render((out) => textReplyEncoder.encodeValue("\x1b[2J", out)), '"\\x1b[2J"\r\n');
    assert.equal(render((out) => textReplyEncoder.encodeValue('"quoted"', out)), '"\\"quoted\\""\r\n');
    assert.equal(render((out) => textReplyEncoder.encodeValue("a\\nb", out)), "a\\nb\r\n"); // two characters, not a newline
    assert.equal(render((out) => textReplyEncoder.encodeValue(new Map([["a\r\n+OK", 0]]), out)), '"a\\r\\n+OK": 0\r\n');
    assert.equal(render((out) => textReplyEncoder.encodeValue(Buffer.from([0xff, 0x41]), out)), '"\\xffA"\r\n');
    assert.equal(render((out) => textReplyEncoder.encodeValue(new Error("first\r\n+OK"), out)), "-ERR first +OK\r\n");
  });
});
