/** The wire protocols a server speaks, by name: the one registration of each. */
import { resp2Protocol, resp3Protocol } from "./resp-protocol.js";
import { textProtocol } from "./text-protocol.js";
import type { WireProtocolSpec } from "./wire-protocol.js";
import type { WireProtocol } from "./wire.js";

export const PROTOCOLS: Readonly<Record<WireProtocol, WireProtocolSpec>> = {
  text: textProtocol,
  resp2: resp2Protocol,
  resp3: resp3Protocol,
};

/** What a connection speaks until its client says otherwise. */
export const DEFAULT_PROTOCOL = textProtocol;

const byFirstByte = new Map<number, WireProtocolSpec>();
for (const spec of Object.values(PROTOCOLS)) if (spec.firstByte !== null) byFirstByte.set(spec.firstByte, spec);

/** The protocol a client's first byte announces, or undefined (then: the default, or a handshake). */
export function protocolOpenedWith(byte: number | undefined): WireProtocolSpec | undefined {
  return byte === undefined ? undefined : byFirstByte.get(byte);
}

/** The protocol a handshake's `proto=` (already lower-cased) selects, or undefined. */
export function protocolForHeader(name: string): WireProtocolSpec | undefined {
  const spec = Object.hasOwn(PROTOCOLS, name) ? PROTOCOLS[name as WireProtocol] : undefined;
  return spec?.headerSelectable ? spec : undefined;
}
