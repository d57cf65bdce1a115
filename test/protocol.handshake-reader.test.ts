/**
 * The handshake reader on its own (no socket, no statechart): how the first line of a
 * connection is told apart, however it is cut into reads.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { HandshakeReader, type HandshakeOutcome } from "../src/protocol/handshake-reader.js";

const COMMANDS = new Set(["ping", "get", "set"]);
const reader = (mode: "auto" | "line" | "none" = "auto", max = 64) => new HandshakeReader(mode, max, (word) => COMMANDS.has(word.toLowerCase()));
const feed = (r: HandshakeReader, ...chunks: string[]): HandshakeOutcome[] => chunks.map((c) => r.read(Buffer.from(c, "latin1")));

describe("HandshakeReader", () => {
  it("reads a header line, its protocol and login, and hands back what follows", () => {
    const outcome = feed(reader(), "app=chat proto=RESP3 auth=ann:s3:cret\r\nping\r\n")[0]!;
    assert.equal(outcome.kind, "header");
    if (outcome.kind !== "header") return;
    assert.deepEqual({ ...outcome.fields }, { app: "chat", proto: "RESP3", auth: "ann:s3:cret" });
    assert.equal(outcome.protocol?.name, "resp3");
    assert.deepEqual(outcome.login, { user: "ann", password: "s3:cret" });
    assert.equal(outcome.rest.toString(), "ping\r\n");
    assert.equal(outcome.size, "app=chat proto=RESP3 auth=ann:s3:cret".length);
  });

  it("auth without a colon is the default user's password; proto=text or nonsense selects nothing", () => {
    const outcome = feed(reader(), "auth=pw proto=text\n")[0]!;
    assert.ok(outcome.kind === "header");
    assert.deepEqual(outcome.login, { user: "default", password: "pw" });
    assert.equal(outcome.protocol, undefined);
  });

  it("auto: a first line that is a command is no header, even when it arrives in pieces", () => {
    assert.equal(feed(reader(), "PING\r\n")[0]!.kind, "implicit");
    const first = feed(reader(), "set key ", "value\r\n")[0]!;
    assert.equal(first.kind, "implicit");
    if (first.kind === "implicit") assert.equal(first.rest.toString(), "set key ");
    // In `line` mode the same line is the header.
    assert.equal(feed(reader("line"), "ping\r\n")[0]!.kind, "header");
  });

  it("refuses a line over the limit before it ends; a CR split from its LF does not count", () => {
    assert.deepEqual(feed(reader("line", 8), "123456789"), [{ kind: "too-large", size: 9 }]);
    assert.deepEqual(feed(reader("line", 8), "12345678\r").map((o) => o.kind), ["incomplete"]);
  });

  it("any split of the same bytes gives the same header and the same rest", () => {
    const input = Buffer.from("name=x  auth=u:p\r\nget k\r\nset k v\r\n", "latin1");
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 6 }), (cuts) => {
        const r = reader("line");
        const points = [0, ...cuts.sort((a, b) => a - b), input.length];
        let header: HandshakeOutcome | undefined;
        let after = "";
        for (let i = 0; i + 1 < points.length; i++) {
          const chunk = input.subarray(points[i]!, points[i + 1]!);
          if (header) after += chunk.toString("latin1");
          else {
            const outcome = r.read(chunk);
            if (outcome.kind === "incomplete") continue;
            header = outcome;
            if (outcome.kind === "header") after += outcome.rest.toString("latin1");
          }
        }
        assert.ok(header?.kind === "header");
        assert.deepEqual({ ...header.fields }, { name: "x", auth: "u:p" });
        assert.equal(after, "get k\r\nset k v\r\n");
      }),
      { numRuns: 300 },
    );
  });
});
