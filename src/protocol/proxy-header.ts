/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt), versions 1 (text) and 2 (binary):
 * what a proxy sends before the client's own bytes to say who the client is.
 *
 * Pure and incremental: given the bytes received so far, `parseProxyHeader` says `more`
 * (a header may still come), `header` (with how many bytes it took) or `invalid` (with a
 * reason). It never reads past the header, never throws, and refuses as soon as the bytes
 * cannot start or continue a header, so a client that is not a proxy is told apart on its
 * first byte or so.
 */
import { isIPv4, isIPv6, SocketAddress } from "node:net";

/** One end of the proxied connection. */
export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** `local`: the proxy's own connection (a health check): keep the socket's addresses. */
  readonly command: "proxy" | "local";
  /** The client, or null when the header carries none (v1 UNKNOWN, v2 LOCAL, UNSPEC or UNIX). */
  readonly source: ProxyEndpoint | null;
  readonly destination: ProxyEndpoint | null;
}

export type ProxyParse =
  | { readonly kind: "more" }
  | { readonly kind: "header"; readonly header: ProxyHeader; readonly length: number }
  | { readonly kind: "invalid"; readonly reason: string };

/** The v1 line at most, CRLF included (the spec's 107). */
export const MAX_V1_LENGTH = 107;
/**
 * The v2 header at most: 16 fixed bytes, the addresses (216 for AF_UNIX) and TLVs. The spec
 * allows 65,535 more; a proxy's TLVs (SSL, unique id, cloud endpoint ids) take a few hundred.
 */
export const MAX_V2_LENGTH = 4096;

const V1_PREFIX = Buffer.from("PROXY ", "latin1");
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;

const MORE: ProxyParse = { kind: "more" };

function invalid(reason: string): ProxyParse {
  return { kind: "invalid", reason };
}

/** True while `bytes` agree with `prefix` as far as both go. */
function agrees(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** Decides what the bytes received so far are: see the module comment. */
export function parseProxyHeader(bytes: Uint8Array): ProxyParse {
  if (bytes.length === 0) return MORE;
  if (bytes[0] === V1_PREFIX[0]) {
    return agrees(bytes, V1_PREFIX) ? parseV1(bytes) : invalid("not a PROXY protocol header");
  }
  if (bytes[0] === V2_SIGNATURE[0]) {
    return agrees(bytes, V2_SIGNATURE) ? parseV2(bytes) : invalid("not a PROXY protocol header");
  }
  return invalid("not a PROXY protocol header");
}

// ---- version 1 ---------------------------------------------------------------------------

/** A port as the spec writes it: 0 to 65535, decimal, no sign, no leading zero. */
function v1Port(text: string): number | null {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

/** What may follow "PROXY ": a line that agrees with none of these is refused at once. */
const V1_PROTOCOLS = ["TCP4 ", "TCP6 ", "UNKNOWN"].map((name) => Buffer.from(name, "latin1"));

function parseV1(bytes: Uint8Array): ProxyParse {
  const after = bytes.subarray(V1_PREFIX.length);
  if (!V1_PROTOCOLS.some((name) => agrees(after, name))) return invalid("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
  const limit = Math.min(bytes.length, MAX_V1_LENGTH);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const byte = bytes[i]!;
    if (byte === 0x0a) return invalid("PROXY v1 line ends in LF without CR");
    if (byte === 0x0d) {
      if (i + 1 >= bytes.length) return i + 1 < MAX_V1_LENGTH ? MORE : invalid("PROXY v1 line longer than 107 bytes");
      if (bytes[i + 1] !== 0x0a) return invalid("PROXY v1 line has CR without LF");
      end = i;
      break;
    }
    // Printable ASCII only: anything else is not a header (and keeps the line loggable).
    if (byte < 0x20 || byte > 0x7e) return invalid("PROXY v1 line has a non-printable byte");
  }
  if (end < 0) return bytes.length >= MAX_V1_LENGTH ? invalid("PROXY v1 line longer than 107 bytes") : MORE;
  const length = end + 2;
  const fields = Buffer.from(bytes.buffer, bytes.byteOffset + V1_PREFIX.length, end - V1_PREFIX.length).toString("latin1").split(" ");
  const protocol = fields[0];
  // UNKNOWN: the rest of the line is to be ignored, and the socket's addresses kept.
  if (protocol === "UNKNOWN") return { kind: "header", length, header: { version: 1, command: "proxy", source: null, destination: null } };
  if (protocol !== "TCP4" && protocol !== "TCP6") return invalid("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
  if (fields.length !== 5) return invalid("PROXY v1 line needs 4 fields after the protocol, one space apart");
  const [, src = "", dst = "", srcPort = "", dstPort = ""] = fields;
  const isAddress = protocol === "TCP4" ? isIPv4 : (a: string) => isIPv6(a) && !a.includes("%");
  if (!isAddress(src) || !isAddress(dst)) return invalid(`PROXY v1 addresses are not ${protocol === "TCP4" ? "IPv4" : "IPv6"}`);
  const sourcePort = v1Port(srcPort);
  const destinationPort = v1Port(dstPort);
  if (sourcePort === null || destinationPort === null) return invalid("PROXY v1 port is not a number from 0 to 65535");
  const written = protocol === "TCP4" ? (a: string) => a : canonicalIPv6;
  const source = written(src);
  const destination = written(dst);
  if (source === null || destination === null) return invalid("PROXY v1 addresses are not IPv6");
  return {
    kind: "header",
    length,
    header: { version: 1, command: "proxy", source: { address: source, port: sourcePort }, destination: { address: destination, port: destinationPort } },
  };
}

/** `2001:DB8:0::1` as a socket would report it (`2001:db8::1`), so one client has one spelling; null if not IPv6 after all. */
function canonicalIPv6(text: string): string | null {
  try {
    return new SocketAddress({ address: text, family: "ipv6" }).address;
  } catch {
    return null;
  }
}

// ---- version 2 ---------------------------------------------------------------------------

function parseV2(bytes: Uint8Array): ProxyParse {
  if (bytes.length <= V2_SIGNATURE.length) return MORE;
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) return invalid("PROXY v2 version is not 2");
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid("PROXY v2 command is not LOCAL or PROXY");
  if (bytes.length < 14) return MORE;
  const family = bytes[13]! >> 4;
  const transport = bytes[13]! & 0x0f;
  if (family > 3) return invalid("PROXY v2 address family is unknown");
  if (transport > 2) return invalid("PROXY v2 transport is unknown");
  if (bytes.length < V2_FIXED) return MORE;
  const rest = (bytes[14]! << 8) | bytes[15]!;
  const length = V2_FIXED + rest;
  if (length > MAX_V2_LENGTH) return invalid(`PROXY v2 header longer than ${MAX_V2_LENGTH} bytes`);
  const needed = family === 1 ? 12 : family === 2 ? 36 : family === 3 ? 216 : 0;
  if (command === 1 && rest < needed) return invalid("PROXY v2 length is too short for its addresses");
  if (bytes.length < length) return MORE;
  const none = { kind: "header", length, header: { version: 2, command: command === 0 ? "local" : "proxy", source: null, destination: null } } as const;
  // LOCAL: the proxy's own connection; UNSPEC and UNIX: no address to take. Keep the socket's.
  if (command === 0 || family === 0 || family === 3 || transport === 0) return none;
  if (transport !== 1) return invalid("PROXY v2 transport is not STREAM");
  const at = V2_FIXED;
  const size = family === 1 ? 4 : 16;
  const format = family === 1 ? formatIPv4 : formatIPv6;
  const ports = at + 2 * size;
  return {
    kind: "header",
    length,
    header: {
      version: 2,
      command: "proxy",
      source: { address: format(bytes, at), port: (bytes[ports]! << 8) | bytes[ports + 1]! },
      destination: { address: format(bytes, at + size), port: (bytes[ports + 2]! << 8) | bytes[ports + 3]! },
    },
  };
}

function formatIPv4(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

/**
 * As Node writes a socket's `remoteAddress`: lower case, the longest run of zero groups as
 * `::`, and IPv4-mapped (and -compatible) addresses with a dotted tail.
 */
export function formatIPv6(bytes: Uint8Array, at = 0): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[at + 2 * i]! << 8) | bytes[at + 2 * i + 1]!).toString(16));
  // Eight groups are always an IPv6 address: this cannot be null.
  return canonicalIPv6(groups.join(":")) ?? groups.join(":");
}
