/**
 * src/protocol/proxy-header.ts on its own: v1 and v2 headers as proxies write them, the
 * strict field checks, the earliest refusal, and properties over random headers, random
 * splits and random bytes.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { formatIPv6, MAX_V1_LENGTH, MAX_V2_LENGTH, parseProxyHeader, type ProxyParse } from "../src/protocol/proxy-header.js";
import { type Endpoints, ipv6Bytes, proxyV1, proxyV2, tlv, V2_SIGNATURE } from "./proxy-support.js";

const v4: Endpoints = { source: { address: "203.0.113.7", port: 51234 }, destination: { address: "10.0.0.2", port: 6379 } };
const v6: Endpoints = { source: { address: "2001:db8::7", port: 1 }, destination: { address: "fd00::2", port: 65535 } };

function header(result: ProxyParse) {
  assert.equal(result.kind, "header", JSON.stringify(result));
  return result as Extract<ProxyParse, { kind: "header" }>;
}

function reasonOf(bytes: Buffer | string): string {
  const result = parseProxyHeader(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  assert.equal(result.kind, "invalid", `expected a refusal: ${JSON.stringify(result)}`);
  return (result as { reason: string }).reason;
}

describe("PROXY v1", () => {
  test("TCP4 and TCP6 lines give the source and destination, and the length of the line only", () => {
    const line = proxyV1(v4);
    const parsed = header(parseProxyHeader(Buffer.concat([line, Buffer.from("PING\r\n")])));
    assert.equal(parsed.length, line.length);
    assert.deepEqual(parsed.header, { version: 1, command: "proxy", ...v4 });
    assert.deepEqual(header(parseProxyHeader(proxyV1(v6))).header, { version: 1, command: "proxy", ...v6 });
  });

  test("TCP6 addresses are written as a socket reports them, whatever the spelling", () => {
    const parsed = header(parseProxyHeader(Buffer.from("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::FFFF:10.0.0.1 1 2\r\n")));
    assert.equal(parsed.header.source?.address, "2001:db8::1");
    assert.equal(parsed.header.destination?.address, "::ffff:10.0.0.1");
  });

  test("UNKNOWN keeps no address, whatever follows it on the line", () => {
    for (const line of ["PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"]) {
      const parsed = header(parseProxyHeader(Buffer.from(line)));
      assert.deepEqual(parsed.header, { version: 1, command: "proxy", source: null, destination: null });
      assert.equal(parsed.length, line.length);
    }
  });

  test("strict fields: addresses of the right family, ports 0-65535 without junk, single spaces, CRLF", () => {
    const bad = [
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
      "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
      "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
      "PROXY TCP4 ::1 ::1 1 2\r\n",
      "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX",
      "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
      "PROXY \r\n",
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\x00\r\n",
    ];
    for (const line of bad) assert.ok(reasonOf(line).startsWith("PROXY v1"), JSON.stringify(line));
  });

  test("longer than 107 bytes without CRLF is refused at byte 107, not later", () => {
    const long = "PROXY UNKNOWN " + "x".repeat(200);
    assert.equal(parseProxyHeader(Buffer.from(long.slice(0, MAX_V1_LENGTH - 1))).kind, "more");
    assert.match(reasonOf(long.slice(0, MAX_V1_LENGTH)), /longer than 107/);
    // Exactly 107 with its CRLF is fine.
    const exact = "PROXY UNKNOWN " + "x".repeat(MAX_V1_LENGTH - 16) + "\r\n";
    assert.equal(exact.length, MAX_V1_LENGTH);
    assert.equal(header(parseProxyHeader(Buffer.from(exact))).length, MAX_V1_LENGTH);
  });
});

describe("PROXY v2", () => {
  test("AF_INET and AF_INET6 over STREAM, with TLVs skipped; the bytes after it are not taken", () => {
    const withTlvs = proxyV2(v4, { tlvs: Buffer.concat([tlv(0x04, Buffer.alloc(0)), tlv(0x05, Buffer.from("unique-id"))]) });
    const parsed = header(parseProxyHeader(Buffer.concat([withTlvs, Buffer.from("*1\r\n$4\r\nPING\r\n")])));
    assert.equal(parsed.length, withTlvs.length);
    assert.deepEqual(parsed.header, { version: 2, command: "proxy", ...v4 });
    assert.deepEqual(header(parseProxyHeader(proxyV2(v6))).header, { version: 2, command: "proxy", ...v6 });
  });

  test("LOCAL, UNSPEC and AF_UNIX keep the socket's own address (no source)", () => {
    const local = header(parseProxyHeader(proxyV2(v4, { command: 0 })));
    assert.deepEqual(local.header, { version: 2, command: "local", source: null, destination: null });
    assert.equal(header(parseProxyHeader(proxyV2(null, { command: 0 }))).header.command, "local");
    assert.equal(header(parseProxyHeader(proxyV2(null))).header.source, null);
    const unix = proxyV2(null, { familyByte: 0x31, tlvs: Buffer.alloc(216) });
    assert.deepEqual(header(parseProxyHeader(unix)).header.source, null);
  });

  test("bad version, command, family, transport or length are refused as soon as their byte arrives", () => {
    const good = proxyV2(v4);
    const at = (index: number, value: number) => {
      const bytes = Buffer.from(good.subarray(0, index + 1));
      bytes[index] = value;
      return bytes;
    };
    assert.match(reasonOf(at(12, 0x11)), /version/);
    assert.match(reasonOf(at(12, 0x22)), /command/);
    assert.match(reasonOf(at(13, 0x41)), /family/);
    assert.match(reasonOf(at(13, 0x13)), /transport/);
    assert.match(reasonOf(proxyV2(v4, { familyByte: 0x12 })), /STREAM/); // DGRAM
    // A huge length is refused on its 16th byte, without waiting for 65,535 more.
    assert.match(reasonOf(proxyV2(null, { length: 0xffff }).subarray(0, 16)), new RegExp(`longer than ${MAX_V2_LENGTH}`));
    assert.match(reasonOf(proxyV2(v4, { length: 8 }).subarray(0, 16)), /too short/);
  });

  test("IPv6 addresses are written as Node writes remoteAddress", () => {
    const cases = { "::": "::", "::1": "::1", "2001:db8::1:0:0:1": "2001:db8::1:0:0:1", "2001:db8:0:1:0:0:0:1": "2001:db8:0:1::1", "1:0:0:2:0:0:0:3": "1:0:0:2::3", "FE80:0::": "fe80::",
      "1:2:3:4:5:6:7:8": "1:2:3:4:5:6:7:8", "::ffff:127.0.0.1": "::ffff:127.0.0.1", "1::": "1::", "0:1:0:1:0:1:0:1": "0:1:0:1:0:1:0:1", "::1:0": "::0.1.0.0", "::ffff:0:1": "::ffff:0.0.0.1" };
    for (const [given, written] of Object.entries(cases)) assert.equal(formatIPv6(ipv6Bytes(given)), written, given);
    // And as a real socket reports it: an IPv6 client of an IPv6 server.
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 }), (groups) => {
        const text = groups.map((g) => g.toString(16)).join(":");
        // The URL standard writes the same but for a dotted tail (its first 96 bits zero, or ::ffff:).
        const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        if (groups.slice(0, 5).some((g) => g !== 0)) assert.equal(formatIPv6(ipv6Bytes(text)), canonical);
      }),
      { numRuns: 300 },
    );
  });
});

describe("the first bytes decide", () => {
  test("a client that is not a proxy is refused on its first byte; a prefix of a header needs more", () => {
    for (const first of ["*", "G", "h", "\x16", "\n", "P\x00"]) assert.equal(parseProxyHeader(Buffer.from(first, "latin1")).kind, "invalid", first);
    assert.equal(parseProxyHeader(Buffer.from("PING\r\n")).kind, "invalid"); // refused on its second byte
    assert.equal(parseProxyHeader(Buffer.from("PROXY TCP9")).kind, "invalid");
    for (let n = 0; n < 16; n++) assert.equal(parseProxyHeader(proxyV2(v4).subarray(0, n)).kind, "more", `v2 prefix of ${n}`);
    assert.equal(parseProxyHeader(V2_SIGNATURE.subarray(0, 5)).kind, "more");
    assert.equal(parseProxyHeader(Buffer.from("\r\n\r\n\x00\r\nX")).kind, "invalid");
  });
});

// ---- properties ------------------------------------------------------------------------

const port = fc.integer({ min: 0, max: 65535 });
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
const ipv6 = fc.array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 }).map((groups) => {
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(g, 2 * i));
  return formatIPv6(bytes);
});
const endpoints = fc.oneof(
  fc.record({ source: fc.record({ address: ipv4, port }), destination: fc.record({ address: ipv4, port }) }),
  fc.record({ source: fc.record({ address: ipv6, port }), destination: fc.record({ address: ipv6, port }) }),
);
const tlvs = fc.array(fc.tuple(fc.nat(255), fc.uint8Array({ maxLength: 40 })), { maxLength: 4 }).map((list) => Buffer.concat(list.map(([type, value]) => tlv(type, Buffer.from(value)))));
const encoded = fc.oneof(
  endpoints.map((e) => ({ endpoints: e, bytes: proxyV1(e), version: 1 as const })),
  fc.tuple(endpoints, tlvs).map(([e, extra]) => ({ endpoints: e, bytes: proxyV2(e, { tlvs: extra }), version: 2 as const })),
);

/** Feeds `bytes` as the gate does: the parse of each growing prefix, until it decides. */
function feed(bytes: Buffer, cuts: number[]): ProxyParse {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  for (const point of [...points, bytes.length]) {
    const result = parseProxyHeader(bytes.subarray(0, point));
    if (result.kind !== "more") return result;
  }
  return { kind: "more" };
}

describe("properties", () => {
  test("encode then decode gives the endpoints back, for v1 and v2", () => {
    fc.assert(
      fc.property(encoded, fc.uint8Array({ maxLength: 20 }), ({ endpoints: e, bytes, version }, after) => {
        const parsed = header(parseProxyHeader(Buffer.concat([bytes, after])));
        assert.equal(parsed.length, bytes.length);
        assert.deepEqual(parsed.header, { version, command: "proxy", ...(JSON.parse(JSON.stringify(e)) as Endpoints) });
      }),
      { numRuns: 500 },
    );
  });

  test("any split of the bytes gives the same result as all at once", () => {
    const anyBytes = fc.oneof(encoded.map((x) => x.bytes), fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)));
    fc.assert(
      fc.property(anyBytes, fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        assert.deepEqual(feed(bytes, cuts), parseProxyHeader(bytes));
      }),
      { numRuns: 500 },
    );
  });

  test("random bytes never throw, and never make a header that does not start with a signature", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
        const bytes = Buffer.from(raw);
        const result = parseProxyHeader(bytes);
        if (result.kind === "header") {
          const v1 = bytes.subarray(0, 6).toString("latin1") === "PROXY ";
          assert.ok(v1 || bytes.subarray(0, 12).equals(V2_SIGNATURE));
          assert.ok(result.length <= bytes.length);
        }
      }),
      { numRuns: 2000 },
    );
    // Random bytes behind a real signature: still no throw, and any header lies within the bytes.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
        const bytes = Buffer.concat([V2_SIGNATURE, Buffer.from(raw)]);
        const result = parseProxyHeader(bytes);
        if (result.kind === "header") assert.ok(result.length <= bytes.length && result.length <= MAX_V2_LENGTH);
      }),
      { numRuns: 2000 },
    );
  });
});
