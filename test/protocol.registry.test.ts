/**
 * The wire protocols registry (src/protocol/protocols.ts): each protocol is one object, and
 * detection never lets a client's words reach anything but a registered protocol.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_PROTOCOL, PROTOCOLS, protocolForHeader, protocolOpenedWith } from "../src/protocol/protocols.js";

describe("wire protocols", () => {
  it("are registered under their own names, and text is the default", () => {
    for (const [name, spec] of Object.entries(PROTOCOLS)) assert.equal(spec.name, name);
    assert.equal(DEFAULT_PROTOCOL.name, "text");
  });

  it("a first byte announces at most one protocol: `*` is RESP2, anything else none", () => {
    assert.equal(protocolOpenedWith(0x2a)?.name, "resp2");
    for (let byte = 0; byte < 256; byte++) if (byte !== 0x2a) assert.equal(protocolOpenedWith(byte), undefined);
    assert.equal(protocolOpenedWith(undefined), undefined);
  });

  it("proto= chooses only a header-selectable protocol, never an object member", () => {
    assert.equal(protocolForHeader("resp2")?.name, "resp2");
    assert.equal(protocolForHeader("resp3")?.name, "resp3");
    for (const name of ["text", "resp4", "", "constructor", "__proto__", "toString", "hasOwnProperty"]) {
      assert.equal(protocolForHeader(name), undefined, name);
    }
  });

  it("each says how a login is asked for in its clients' terms", () => {
    assert.equal(PROTOCOLS.text.loginRequired.code, "ERR");
    assert.equal(PROTOCOLS.resp2.loginRequired.code, "NOAUTH");
    assert.equal(PROTOCOLS.resp3.loginRequired.code, "NOAUTH");
  });
});
