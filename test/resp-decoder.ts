/**
 * A small, strict RESP2/RESP3 reply decoder for tests. It is written independently of
 * the encoder in src/ and favours being obviously right over being fast:
 *
 * - every header line must end in CRLF and contain no other CR or LF;
 * - length-prefixed payloads (`$`, `=`, `!`) are read byte for byte and must be followed by CRLF;
 * - numbers must be well formed (no spaces, no leading `+`);
 * - the whole buffer must be consumed: trailing or missing bytes throw.
 *
 * With `{ version: 2 }` any RESP3-only type (`_ # , ( ! = ~ % > |`) throws, so a test can
 * check that a RESP2 encoder never leaks RESP3 syntax.
 */
export type RespValue =
  | { t: "bulk"; v: Buffer }
  | { t: "simple"; v: string }
  | { t: "error"; v: string }
  | { t: "int"; v: bigint }
  | { t: "null" }
  | { t: "double"; v: number }
  | { t: "bool"; v: boolean }
  | { t: "big"; v: bigint }
  | { t: "verbatim"; fmt: string; v: string }
  | { t: "array"; v: RespValue[] }
  | { t: "set"; v: RespValue[] }
  | { t: "push"; v: RespValue[] }
  | { t: "map"; v: [RespValue, RespValue][] };

export interface DecodeOptions {
  /** 2 rejects RESP3-only types; 3 (the default) accepts both. */
  version?: 2 | 3;
}

export class RespDecodeError extends Error {}

const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const LENGTH = /^(0|[1-9][0-9]*)$/;
// RESP3 double grammar: [sign] digits [. digits] [e|E [sign] digits], or inf / -inf / nan.
const DOUBLE = /^[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;
const RESP3_ONLY = new Set(["_", "#", ",", "(", "!", "=", "~", "%", ">", "|"]);

class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly version: 2 | 3,
  ) {}

  fail(message: string): never {
    throw new RespDecodeError(`${message} at byte ${this.pos}`);
  }

  /** The text up to the next CRLF (which is consumed). */
  line(): string {
    const end = this.buf.indexOf("\r\n", this.pos, "latin1");
    if (end < 0) this.fail("incomplete line");
    const bytes = this.buf.subarray(this.pos, end);
    if (bytes.includes(0x0d) || bytes.includes(0x0a)) this.fail("bare CR or LF in a line");
    this.pos = end + 2;
    return bytes.toString("utf8");
  }

  /** Exactly `n` bytes, then a CRLF. */
  payload(n: number): Buffer {
    if (this.pos + n + 2 > this.buf.length) this.fail("incomplete payload");
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    if (this.buf[this.pos + n] !== 0x0d || this.buf[this.pos + n + 1] !== 0x0a) this.fail("payload not followed by CRLF");
    this.pos += n + 2;
    return bytes;
  }

  integer(text: string): bigint {
    if (!INTEGER.test(text)) this.fail(`bad integer ${JSON.stringify(text)}`);
    return BigInt(text);
  }

  length(text: string): number {
    if (!LENGTH.test(text)) this.fail(`bad length ${JSON.stringify(text)}`);
    return Number(text);
  }

  items(count: number): RespValue[] {
    const items: RespValue[] = [];
    for (let i = 0; i < count; i++) items.push(this.value());
    return items;
  }

  value(): RespValue {
    if (this.pos >= this.buf.length) this.fail("incomplete: expected a value");
    const type = String.fromCharCode(this.buf[this.pos]!);
    if (this.version === 2 && RESP3_ONLY.has(type)) this.fail(`RESP3 type ${JSON.stringify(type)} in RESP2`);
    this.pos += 1;
    const head = this.line();
    switch (type) {
      case "+":
        return { t: "simple", v: head };
      case "-":
        return { t: "error", v: head };
      case ":":
        return { t: "int", v: this.integer(head) };
      case "$":
        if (head === "-1") return { t: "null" };
        return { t: "bulk", v: this.payload(this.length(head)) };
      case "*":
        if (head === "-1") return { t: "null" };
        return { t: "array", v: this.items(this.length(head)) };
      case "_":
        if (head !== "") this.fail("null with a payload");
        return { t: "null" };
      case "#":
        if (head === "t") return { t: "bool", v: true };
        if (head === "f") return { t: "bool", v: false };
        return this.fail(`bad boolean ${JSON.stringify(head)}`);
      case ",":
        if (head === "inf") return { t: "double", v: Infinity };
        if (head === "-inf") return { t: "double", v: -Infinity };
        if (head === "nan") return { t: "double", v: NaN };
        if (!DOUBLE.test(head)) this.fail(`bad double ${JSON.stringify(head)}`);
        return { t: "double", v: Number(head) };
      case "(":
        return { t: "big", v: this.integer(head) };
      case "!":
        return { t: "error", v: this.payload(this.length(head)).toString("utf8") };
      case "=": {
        const body = this.payload(this.length(head));
        if (body.length < 4 || body[3] !== 0x3a) this.fail("verbatim string without fmt:");
        return { t: "verbatim", fmt: body.subarray(0, 3).toString("utf8"), v: body.subarray(4).toString("utf8") };
      }
      case "~":
        return { t: "set", v: this.items(this.length(head)) };
      case ">":
        return { t: "push", v: this.items(this.length(head)) };
      case "%": {
        const count = this.length(head);
        const pairs: [RespValue, RespValue][] = [];
        for (let i = 0; i < count; i++) pairs.push([this.value(), this.value()]);
        return { t: "map", v: pairs };
      }
      default:
        return this.fail(`unknown type byte ${JSON.stringify(type)}`);
    }
  }
}

/** Every reply in `buf`, in order. Throws unless `buf` is a whole number of well-formed replies. */
export function decodeReplies(buf: Buffer, options: DecodeOptions = {}): RespValue[] {
  const reader = new Reader(buf, options.version ?? 3);
  const replies: RespValue[] = [];
  while (reader.pos < buf.length) replies.push(reader.value());
  return replies;
}

/** The one reply in `buf`; throws if there are none or several. */
export function decodeReply(buf: Buffer, options: DecodeOptions = {}): RespValue {
  const replies = decodeReplies(buf, options);
  if (replies.length !== 1) throw new RespDecodeError(`expected exactly one reply, got ${replies.length}`);
  return replies[0]!;
}
