import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TlsOptions } from "node:tls";
import type { Logger } from "pino";
import { RetopyError } from "./errors.js";
import type { ProxyPeer, ProxyProtocolGate } from "./proxy-protocol.js";

/** Raw sockets are matched to their TLS sockets by address: unique among live TCP connections. */
function addressKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}

/**
 * The listening socket of a RetopyServer: plain TCP, or TLS when given `node:tls` options.
 *
 * Over TLS a client becomes a connection only once its handshake is done
 * (`secureConnection`). Until then the listener keeps its raw socket, because nothing else
 * would: a client stalled mid-handshake would hold `server.close()` until Node's handshake
 * timeout (120 s by default), and Node does not even close the socket when that timeout
 * fires unless a `tlsClientError` listener does.
 *
 * With a PROXY protocol gate, each raw socket gives its PROXY header first (before the TLS
 * handshake, as HAProxy's `send-proxy` to an `ssl` server sends it); `onSocket` receives
 * the client the header names.
 */
export class Listener {
  readonly server: Server;
  readonly tls: boolean;
  /** Raw sockets whose TLS handshake has not finished yet, by {@link addressKey}. */
  readonly #handshaking = new Map<string, Socket>();
  readonly #proxy: ProxyProtocolGate | null;
  /** The client each raw socket's PROXY header named, by {@link addressKey}, until its TLS handshake is done. */
  readonly #peers = new Map<string, { raw: Socket; peer: ProxyPeer }>();

  /**
   * `refuseHandshake(handshaking)` is asked for each new TLS client, with the number already
   * handshaking: true turns it away before its handshake (it counts toward the server's
   * `maxConnections`, or stalled handshakes could pile up past it). With `proxy`, sockets
   * waiting for their PROXY header count too, and are asked about the same way.
   */
  constructor(
    tls: TlsOptions | undefined,
    onSocket: (socket: Socket, peer?: ProxyPeer) => void,
    logger: Logger,
    refuseHandshake: (handshaking: number) => boolean = () => false,
    proxy: ProxyProtocolGate | null = null,
  ) {
    this.tls = tls !== undefined;
    this.#proxy = proxy;
    if (tls === undefined) {
      this.server = proxy
        ? createTcpServer((raw) => {
            if (refuseHandshake(this.waiting)) {
              raw.destroy();
              return;
            }
            proxy.read(raw, (peer) => {
              onSocket(raw, peer);
              raw.resume(); // the gate left it paused, its remainder unshifted
            });
          })
        : createTcpServer(onSocket);
      return;
    }
    if (typeof tls !== "object" || tls === null) {
      throw new RetopyError("RETOPY_INVALID_OPTION", "tls must be an object of node:tls options");
    }
    // Without a certificate every handshake would fail; say so now rather than per client.
    if (!((tls.key && tls.cert) || tls.pfx || tls.secureContext || tls.SNICallback)) {
      throw new RetopyError("RETOPY_INVALID_OPTION", "tls needs a certificate: key and cert, pfx, secureContext or SNICallback");
    }
    let server: Server;
    try {
      server = createTlsServer(tls, (socket) => {
        const key = addressKey(socket);
        this.#handshaking.delete(key);
        const proxied = this.#peers.get(key);
        this.#peers.delete(key);
        // A client-initiated renegotiation costs the server a full handshake each time, and
        // nothing of ours needs one (TLS 1.3 has none at all): refuse it outright. Node then
        // emits an error on the socket, and the connection closes it.
        socket.disableRenegotiation();
        onSocket(socket, proxied?.peer);
      });
    } catch (error) {
      // OpenSSL's reason, e.g. "error:1E08010C:DECODER routines::unsupported" for a bad PEM.
      throw new RetopyError("RETOPY_INVALID_OPTION", `invalid tls options: ${error instanceof Error ? error.message : String(error)}`);
    }
    server.on("connection", (raw: Socket) => {
      if (refuseHandshake(this.#handshaking.size)) {
        raw.destroy(); // nothing can be said: the client expects a TLS handshake, not text
        return;
      }
      const key = addressKey(raw);
      this.#handshaking.set(key, raw);
      raw.once("close", () => {
        if (this.#handshaking.get(key) === raw) this.#handshaking.delete(key);
      });
    });
    // A plaintext client, a bad handshake, a handshake timeout: the client's problem, and
    // nobody else's. The socket must be destroyed here (see the class comment).
    server.on("tlsClientError", (error: Error, socket: Socket) => {
      logger.debug({ err: error, remoteAddress: socket.remoteAddress }, "tls client error");
      socket.destroy();
    });
    if (!proxy) {
      this.server = server;
      return;
    }
    // TCP listens; each socket reaches the TLS server (which never listens) after its header.
    const tlsServer = server;
    this.server = createTcpServer((raw) => {
      if (refuseHandshake(this.waiting)) {
        raw.destroy();
        return;
      }
      proxy.read(raw, (peer) => {
        const key = addressKey(raw);
        this.#peers.set(key, { raw, peer });
        raw.once("close", () => {
          if (this.#peers.get(key)?.raw === raw) this.#peers.delete(key);
        });
        // Node's TLS server takes the paused socket and reads what the gate unshifted first.
        tlsServer.emit("connection", raw);
      });
    });
  }

  /** Clients not yet connections: in their TLS handshake, or waiting for their PROXY header. */
  get waiting(): number {
    return this.#handshaking.size + (this.#proxy?.waiting ?? 0);
  }

  /** Cuts every client still in its TLS handshake or PROXY header; they have no commands to finish. */
  cutHandshakes(): void {
    for (const raw of this.#handshaking.values()) raw.destroy();
    this.#handshaking.clear();
    this.#proxy?.cutWaiting();
  }
}
