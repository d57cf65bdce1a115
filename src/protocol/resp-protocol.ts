/**
 * Redis's RESP, as redis-cli and every Redis client library speak it: RESP2 for a client
 * that opens with a multibulk request (`*`), or says `proto=resp2`; RESP3 once it says
 * `proto=resp3` or HELLO 3. Requests are read the same way in both; replies differ.
 */
import { resp2ReplyEncoder, resp3ReplyEncoder } from "./resp-reply.js";
import type { WireProtocolSpec } from "./wire-protocol.js";
import { WireErrors } from "./wire-errors.js";

const STAR = 0x2a;

export const resp2Protocol: WireProtocolSpec = {
  name: "resp2",
  firstByte: STAR,
  headerSelectable: true,
  requestFormat: "resp",
  telnet: false,
  encoder: resp2ReplyEncoder,
  respVersion: 2,
  forPeople: false,
  // Redis clients know NOAUTH.
  loginRequired: WireErrors.noAuth,
};

export const resp3Protocol: WireProtocolSpec = {
  ...resp2Protocol,
  name: "resp3",
  // A client reaches RESP3 by asking for it, never by its first byte (that is RESP2's `*`).
  firstByte: null,
  encoder: resp3ReplyEncoder,
  respVersion: 3,
};
