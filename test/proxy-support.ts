/**
 * PROXY protocol headers as a proxy writes them (HAProxy's proxy-protocol.txt), for tests
 * that play the proxy: v1 lines and v2 binary headers, with TLVs.
 */
import { isIPv4 } from "node:net";

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export interface Endpoints {
  source: { address: string; port: number };
  destination: { address: string; port: number };
}

/** `PROXY TCP4 ...\r\n` (or TCP6, by the source address). */
export function proxyV1({ source, destination }: Endpoints): Buffer {
  const protocol = isIPv4(source.address) ? "TCP4" : "TCP6";
  return Buffer.from(`PROXY ${protocol} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`, "latin1");
}

/** The 16 bytes of an IPv6 address in text (a dotted IPv4 tail allowed). */
export function ipv6Bytes(address: string): Buffer {
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const [head = "", rest] = text.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = rest === undefined || rest === "" ? [] : rest.split(":");
  const groups = rest === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), 2 * i));
  return bytes;
}

export interface V2Options {
  /** 0 LOCAL, 1 PROXY (default). */
  command?: number;
  /** Raw TLV bytes appended after the addresses. */
  tlvs?: Buffer;
  /** Override the family/transport byte. */
  familyByte?: number;
  /** Override the length field. */
  length?: number;
}

/** A v2 header: PROXY over STREAM, AF_INET or AF_INET6 by the source address. */
export function proxyV2(endpoints: Endpoints | null, options: V2Options = {}): Buffer {
  let addresses = Buffer.alloc(0);
  let family = 0x00;
  if (endpoints) {
    const v4 = isIPv4(endpoints.source.address);
    family = v4 ? 0x11 : 0x21;
    const encode = v4 ? (a: string) => Buffer.from(a.split(".").map(Number)) : ipv6Bytes;
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(endpoints.source.port, 0);
    ports.writeUInt16BE(endpoints.destination.port, 2);
    addresses = Buffer.concat([encode(endpoints.source.address), encode(endpoints.destination.address), ports]);
  }
  const body = Buffer.concat([addresses, options.tlvs ?? Buffer.alloc(0)]);
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | (options.command ?? 1);
  fixed[1] = options.familyByte ?? family;
  fixed.writeUInt16BE(options.length ?? body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

/** A TLV (type, 16-bit length, value). */
export function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}
