/**
 * The `proxyProtocol` option: behind HAProxy (or any proxy that sends the PROXY protocol),
 * each accepted socket must first say who the client is. The header is read here, from the
 * raw socket, before a Connection (and its actor) exists, as a TLS handshake is; the
 * Connection is then built with the client's address, and the bytes after the header are
 * handed on untouched. A socket without a valid header is closed without a reply: what it
 * sent is not ours to answer, and a proxy would pass an answer on to someone else.
 */
import { BlockList, isIPv4, isIPv6, type Socket } from "node:net";
import type { Logger } from "pino";
import { RetopyError } from "./errors.js";
import { parseProxyHeader } from "./protocol/proxy-header.js";

export interface ProxyProtocolOptions {
  /**
   * Addresses and CIDR ranges (`10.0.0.0/8`, `fd00::/8`) the proxies connect from; a socket
   * from anywhere else is refused before it is read. Default: any source.
   */
  allowFrom?: readonly string[] | undefined;
}

/** The client a connection stands for: from the PROXY header, or the socket's own peer. */
export interface ProxyPeer {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

/** The reason label refusals are counted under (`retopy_connections_rejected_total{reason}`). */
export const PROXY_REFUSAL = "proxy_protocol";

/** Refusal lines logged per window at most; the rest are counted, and the count logged later. */
const LOGGED_PER_WINDOW = 10;
const LOG_WINDOW_MS = 60_000;
/** A remainder at most this long is copied, so it does not pin the read's whole buffer. */
const COPY_REMAINDER_BELOW = 4096;

function noop(): void {}

/** The allow list as a BlockList (it matches `::ffff:a.b.c.d` against IPv4 rules too). */
export function allowList(entries: unknown): BlockList {
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new RetopyError("RETOPY_INVALID_OPTION", "proxyProtocol.allowFrom must be a non-empty array of addresses or CIDR ranges");
  }
  const list = new BlockList();
  for (const entry of entries as unknown[]) {
    const text = typeof entry === "string" ? entry.trim() : "";
    const [address = "", prefix, extra] = text.split("/");
    const type = isIPv4(address) ? "ipv4" : isIPv6(address) && !address.includes("%") ? "ipv6" : null;
    const bits = prefix === undefined ? null : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (type === null || extra !== undefined || Number.isNaN(bits) || (bits !== null && bits > (type === "ipv4" ? 32 : 128))) {
      throw new RetopyError("RETOPY_INVALID_OPTION", `proxyProtocol.allowFrom: '${String(entry)}' is not an IPv4 or IPv6 address or CIDR range`);
    }
    if (bits === null) list.addAddress(address, type);
    else list.addSubnet(address, bits, type);
  }
  return list;
}

/**
 * Reads the PROXY header of each new socket (see the module comment). Sockets waiting for
 * theirs are kept here: they count toward `maxConnections`, and `close()` cuts them.
 */
export class ProxyProtocolGate {
  readonly #allow: BlockList | null;
  readonly #timeout: number;
  readonly #logger: Logger;
  readonly #refused: (reason: string) => void;
  readonly #waiting = new Set<Socket>();
  #windowStart = 0;
  #loggedInWindow = 0;
  #suppressed = 0;

  /** The gate for a `proxyProtocol` option, or null when it is off; a bad option throws now. */
  static fromOption(option: unknown, timeout: number, logger: Logger, refused: (reason: string) => void): ProxyProtocolGate | null {
    if (option === undefined || option === false) return null;
    if (option === true) return new ProxyProtocolGate(null, timeout, logger, refused);
    if (typeof option !== "object" || option === null || Array.isArray(option)) {
      throw new RetopyError("RETOPY_INVALID_OPTION", "proxyProtocol must be true, false or { allowFrom }");
    }
    const allowFrom = (option as ProxyProtocolOptions).allowFrom;
    return new ProxyProtocolGate(allowFrom === undefined ? null : allowList(allowFrom), timeout, logger, refused);
  }

  private constructor(allow: BlockList | null, timeout: number, logger: Logger, refused: (reason: string) => void) {
    this.#allow = allow;
    this.#timeout = timeout;
    this.#logger = logger;
    this.#refused = refused;
  }

  /** Sockets still waiting for their header. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Reads `socket`'s header, then calls `proceed` with the client it names (the socket's own
   * peer for LOCAL and UNKNOWN) and the socket paused, the bytes after the header unshifted
   * into it: whoever takes it over resumes it. A refused socket is destroyed.
   */
  read(socket: Socket, proceed: (peer: ProxyPeer) => void): void {
    const peer: ProxyPeer = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
    socket.on("error", noop); // a reset while waiting is the client's business
    const address = peer.remoteAddress;
    if (this.#allow && (address === undefined || !this.#allow.check(address, isIPv4(address) ? "ipv4" : "ipv6"))) {
      this.#refuse(socket, peer, "source address not in proxyProtocol.allowFrom");
      return;
    }
    this.#waiting.add(socket);
    let received: Buffer | null = null;
    const done = () => {
      this.#waiting.delete(socket);
      if (timer) clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      received = received === null ? chunk : Buffer.concat([received, chunk]);
      const result = parseProxyHeader(received);
      if (result.kind === "more") return;
      done();
      if (result.kind === "invalid") {
        this.#refuse(socket, peer, result.reason);
        return;
      }
      socket.off("error", noop); // whoever takes the socket over handles its errors
      socket.pause();
      if (received.length > result.length) {
        const rest = received.subarray(result.length);
        socket.unshift(rest.length < COPY_REMAINDER_BELOW ? Buffer.from(rest) : rest);
      }
      const source = result.header.source;
      proceed(source ? { remoteAddress: source.address, remotePort: source.port } : peer);
    };
    const onClose = () => {
      done();
      // A TCP probe (connect, close) is not an attack: debug only, not counted.
      this.#logger.debug({ remoteAddress: peer.remoteAddress, remotePort: peer.remotePort }, "closed before its PROXY header");
    };
    const timer =
      this.#timeout > 0
        ? setTimeout(() => {
            done();
            this.#refuse(socket, peer, `no complete PROXY header within ${this.#timeout} ms`);
          }, this.#timeout)
        : null;
    timer?.unref();
    socket.on("data", onData);
    socket.once("close", onClose);
  }

  /** Cuts every socket still waiting for its header (the server is closing). */
  cutWaiting(): void {
    for (const socket of this.#waiting) socket.destroy();
    this.#waiting.clear();
  }

  #refuse(socket: Socket, peer: ProxyPeer, reason: string): void {
    socket.destroy();
    this.#refused(PROXY_REFUSAL);
    const now = Date.now();
    if (now - this.#windowStart >= LOG_WINDOW_MS) {
      this.#windowStart = now;
      this.#loggedInWindow = 0;
    }
    if (this.#loggedInWindow >= LOGGED_PER_WINDOW) {
      this.#suppressed++;
      return;
    }
    this.#loggedInWindow++;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    const last = this.#loggedInWindow === LOGGED_PER_WINDOW;
    this.#logger.warn(
      { remoteAddress: peer.remoteAddress, remotePort: peer.remotePort, reason, ...(suppressed > 0 && { suppressed }) },
      last ? "connection refused: PROXY protocol (more refusals in the next minute are counted, not logged)" : "connection refused: PROXY protocol",
    );
  }
}
