/**
 * The original retopy protocol, for telnet and people: a command per line, words split
 * as redis-cli splits them, one reply per line (src/protocol/text-reply.ts). It is what a
 * connection speaks until it says otherwise.
 */
import { textReplyEncoder } from "./text-reply.js";
import type { WireProtocolSpec } from "./wire-protocol.js";
import { WireErrors } from "./wire-errors.js";

export const textProtocol: WireProtocolSpec = {
  name: "text",
  firstByte: null,
  headerSelectable: false,
  requestFormat: "text",
  telnet: true,
  encoder: textReplyEncoder,
  respVersion: 0,
  forPeople: true,
  // The original retopy's wording, which the seed's telnet session shows.
  loginRequired: WireErrors.authorizationRequired,
};
