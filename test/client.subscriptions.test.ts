/**
 * The client's pub/sub bookkeeping (src/client/subscriptions.ts) on its own: which calls
 * confirmations answer, when such a call is complete, which RESP2 arrays are messages, and
 * what is subscribed again after a reconnect (byte-exact names). Pushes here are what the
 * client's reader makes of the wire: bulk strings as Buffers.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { confirmationsOf, Subscriptions } from "../src/client/subscriptions.js";
import type { BufferReply } from "../src/client/reply.js";

const push = (kind: string, name: string | Buffer | null, count: number): BufferReply[] => [Buffer.from(kind), typeof name === "string" ? Buffer.from(name) : name, count];

describe("client subscriptions", () => {
  it("knows which calls confirmations answer, and how many", () => {
    assert.deepEqual(confirmationsOf(["SUBSCRIBE", "a", "b"]), { kind: "subscribe", remaining: 2 });
    assert.deepEqual(confirmationsOf(["pSubscribe", "n*"]), { kind: "psubscribe", remaining: 1 });
    assert.deepEqual(confirmationsOf(["SSUBSCRIBE"]), { kind: "ssubscribe", remaining: 1 });
    assert.deepEqual(confirmationsOf(["UNSUBSCRIBE"]), { kind: "unsubscribe", remaining: -1 }, "one per channel subscribed: until the count is 0");
    assert.deepEqual(confirmationsOf(["PUNSUBSCRIBE", "n*"]), { kind: "punsubscribe", remaining: 1 });
    assert.equal(confirmationsOf(["GET", "subscribe"]), undefined);
    assert.equal(confirmationsOf(["PUBLISH", "a", "x"]), undefined);
  });

  it("completes a SUBSCRIBE with its last confirmation, and an UNSUBSCRIBE of everything once the count is 0", () => {
    const subscriptions = new Subscriptions();
    const subscribe = confirmationsOf(["SUBSCRIBE", "a", "b"])!;
    assert.equal(subscriptions.confirms(push("subscribe", "a", 1), subscribe), true);
    assert.equal(subscriptions.confirm(push("subscribe", "a", 1), subscribe), undefined, "one more due");
    assert.equal(subscriptions.confirm(push("subscribe", "b", 2), subscribe), 2);

    const all = confirmationsOf(["UNSUBSCRIBE"])!;
    assert.equal(subscriptions.confirm(push("unsubscribe", "a", 1), all), undefined);
    assert.equal(subscriptions.confirm(push("unsubscribe", "b", 0), all), 0);
    assert.deepEqual(subscriptions.takeResubscribe(), [], "nothing left to subscribe again");
  });

  it("tells a confirmation of the awaited call from a message or another kind", () => {
    const subscriptions = new Subscriptions();
    const subscribe = confirmationsOf(["SUBSCRIBE", "a"])!;
    assert.equal(subscriptions.confirms([Buffer.from("message"), Buffer.from("a"), Buffer.from("hi")], subscribe), false);
    assert.equal(subscriptions.confirms(push("psubscribe", "a", 1), subscribe), false);
    assert.equal(subscriptions.confirms([Buffer.from("subscribe"), Buffer.from("a")], subscribe), false, "a confirmation has three elements");
    assert.equal(subscriptions.confirms(push("subscribe", "a", 1), undefined), false, "no subscription call awaited");
    assert.equal(subscriptions.confirms(push("SUBSCRIBE", "a", 1), subscribe), true, "kinds compare case-insensitively");
  });

  it("RESP2: an array is a message once subscribed, or a confirmation the oldest call awaits; otherwise a reply", () => {
    const subscriptions = new Subscriptions();
    const message: BufferReply = [Buffer.from("message"), Buffer.from("a"), Buffer.from("hi")];
    assert.equal(subscriptions.isMessage(message, undefined), false, "not subscribed: a reply that looks like a message");
    const subscribe = confirmationsOf(["SUBSCRIBE", "a"])!;
    assert.equal(subscriptions.isMessage(push("subscribe", "a", 1), subscribe), true);
    subscriptions.confirm(push("subscribe", "a", 1), subscribe);
    assert.equal(subscriptions.isMessage(message, undefined), true);
    assert.equal(subscriptions.isMessage([Buffer.from("pmessage"), Buffer.from("a*"), Buffer.from("a"), Buffer.from("x")], undefined), true);
    assert.equal(subscriptions.isMessage([1, 2], undefined), false);
    assert.equal(subscriptions.isMessage(Buffer.from("message"), undefined), false);
    subscriptions.dropped();
    assert.equal(subscriptions.isMessage(message, undefined), false, "after a drop nothing is subscribed on the server");
  });

  it("subscribes again to what is subscribed, by kind, with the names' exact bytes, then forgets it", () => {
    const subscriptions = new Subscriptions();
    const binary = Buffer.from([0xff, 0x00, 0x41]);
    const channels = confirmationsOf(["SUBSCRIBE", "a", "b", binary])!;
    subscriptions.confirm(push("subscribe", "a", 1), channels);
    subscriptions.confirm(push("subscribe", "b", 2), channels);
    subscriptions.confirm(push("subscribe", binary, 3), channels);
    subscriptions.confirm(push("psubscribe", "n*", 4), confirmationsOf(["PSUBSCRIBE", "n*"])!);
    subscriptions.confirm(push("unsubscribe", "b", 3), confirmationsOf(["UNSUBSCRIBE", "b"])!);
    subscriptions.confirm(push("punsubscribe", "n*", 2), confirmationsOf(["PUNSUBSCRIBE", "n*"])!);
    subscriptions.confirm(push("ssubscribe", null, 2), confirmationsOf(["SSUBSCRIBE"])!);
    assert.deepEqual(subscriptions.takeResubscribe(), [{ args: ["SUBSCRIBE", Buffer.from("a"), binary], buffers: false }]);
    assert.deepEqual(subscriptions.takeResubscribe(), [], "the new confirmations track them again");
  });
});
