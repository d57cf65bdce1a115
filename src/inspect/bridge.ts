import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { inspectorPage, pageSecurityPolicy } from "./page.js";
import { ReplayBuffer } from "./replay.js";

/**
 * retopy's inspector bridge: an HTTP server that serves the viewer page (`GET /`) and relays
 * the inspector client's messages (WebSocket `/source/<token>`) to every viewer (WebSocket
 * `/viewer`), replaying what a late viewer missed (`ReplayBuffer`).
 *
 * Why not `createInspectorServer` from `@statelyai/inspect/server`: it listens on every
 * interface with no host option, so anyone on the network could watch; its page connects to
 * `ws://localhost:<port>` built from the requested port, so port 0 (any free port) cannot
 * work; it relays any client's messages to every other, so a viewer could inject events;
 * its replay is the last 200 messages, which lose the supervisor's announcement on a server
 * that runs for a while; and it never checks who connects. This bridge binds 127.0.0.1 by
 * default, reports the port it got, accepts messages only from the client that holds the
 * random source path, refuses browsers from other origins (and, bound to loopback, requests
 * whose Host is not a loopback name: DNS rebinding), and cuts a viewer that stops reading.
 */

export interface BridgeOptions {
  readonly host: string;
  readonly port: number;
  /** `ReplayBuffer`'s limit: recent messages and live actors kept for late viewers. */
  readonly replay: number;
  readonly logger?: Logger;
  /** Unsent bytes past which a viewer that does not read is disconnected (default 16 MiB). */
  readonly maxViewerBuffer?: number;
}

export interface InspectorBridge {
  /** The page to open in a browser. */
  readonly url: string;
  /** Where the inspector client sends its messages (a random path: only this process knows it). */
  readonly sourceUrl: string;
  readonly address: AddressInfo;
  /** Viewers connected now. */
  viewerCount(): number;
  /** Stops accepting, lets the source's last messages through to the viewers, then closes everything. */
  close(): Promise<void>;
}

const MAX_MESSAGE = 16 * 1024 * 1024;
/** How long `close()` waits for the source's and the viewers' closing handshakes. */
const CLOSE_GRACE_MS = 500;

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\./.test(bare) || /^::ffff:127\./.test(bare);
}

/** `host:port` for a URL; a wildcard address becomes the loopback one, where a local browser finds it. */
function urlHost(address: AddressInfo): string {
  const host = address.address === "0.0.0.0" ? "127.0.0.1" : address.address === "::" ? "::1" : address.address;
  return isIP(host) === 6 ? `[${host}]:${address.port}` : `${host}:${address.port}`;
}

/** The hostname of a Host header (`[::1]:8080` → `::1`), or null if it is not one. */
function hostnameOf(header: string | undefined): string | null {
  if (!header) return null;
  try {
    return new URL(`http://${header}`).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return null;
  }
}

export async function startInspectorBridge(options: BridgeOptions): Promise<InspectorBridge> {
  const replay = new ReplayBuffer(options.replay);
  const maxViewerBuffer = options.maxViewerBuffer ?? 16 * 1024 * 1024;
  const sourcePath = `/source/${randomUUID()}`;
  const loopbackOnly = isLoopback(options.host);
  const viewers = new Set<WebSocket>();
  const sources = new Set<WebSocket>();
  const sockets = new Set<Socket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE, perMessageDeflate: false });

  /** Bound to loopback, only loopback names: a page on another site cannot rebind a name to 127.0.0.1. */
  const hostAllowed = (req: IncomingMessage): boolean => {
    if (!loopbackOnly) return true;
    const name = hostnameOf(req.headers.host);
    return name !== null && isLoopback(name);
  };

  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    if (!hostAllowed(req)) {
      res.writeHead(403, { "content-type": "text/plain; charset=utf-8" }).end("Forbidden: use a loopback address (127.0.0.1 or localhost)\n");
      return;
    }
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/" && path !== "/index.html") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("Method not allowed\n");
      return;
    }
    const host = req.headers.host && /^[\w.:[\]-]+$/.test(req.headers.host) ? req.headers.host : null;
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": pageSecurityPolicy(host ? `ws://${host}` : null),
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    });
    res.end(req.method === "HEAD" ? undefined : inspectorPage());
  };

  const relay = (data: RawData): void => {
    const text = data.toString();
    replay.add(text);
    for (const viewer of viewers) {
      if (viewer.readyState !== WebSocket.OPEN) continue;
      if (viewer.bufferedAmount > maxViewerBuffer) {
        options.logger?.warn({ unsent: viewer.bufferedAmount }, "inspector viewer is not reading; disconnecting it");
        viewer.terminate();
        continue;
      }
      viewer.send(text);
    }
  };

  const http = createServer(serve);
  http.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  http.on("clientError", (_error, socket) => socket.destroy());
  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => undefined);
    const path = req.url ?? "";
    const origin = req.headers.origin;
    const isSource = path === sourcePath;
    // A browser always sends Origin: it must be this page's own. Non-browser viewers send none.
    const viewerAllowed = path === "/viewer" && hostAllowed(req) && (origin === undefined || origin === `http://${req.headers.host}`);
    if (!isSource && !viewerAllowed) {
      socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("error", () => undefined);
      if (isSource) {
        sources.add(ws);
        ws.on("message", relay);
        ws.once("close", () => sources.delete(ws));
        return;
      }
      viewers.add(ws);
      ws.once("close", () => viewers.delete(ws));
      // What it missed first; then, as messages arrive, the live stream. Viewers' own messages are ignored.
      for (const text of replay.messages()) ws.send(text);
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port, options.host, () => {
      http.off("error", reject);
      resolve();
    });
  });
  http.on("error", (error) => options.logger?.error({ err: error }, "inspector bridge error"));
  const address = http.address() as AddressInfo;
  const where = urlHost(address);

  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    // The source closes first (its last messages are relayed on the way), then the viewers.
    await settle([...sources], CLOSE_GRACE_MS);
    for (const viewer of viewers) viewer.close(1001, "server closing");
    await settle([...viewers], CLOSE_GRACE_MS);
    for (const ws of [...sources, ...viewers]) ws.terminate();
    wss.close();
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return {
    url: `http://${where}/`,
    sourceUrl: `ws://${where}${sourcePath}`,
    address,
    viewerCount: () => viewers.size,
    close: () => (closing ??= close()),
  };
}

/** Resolves once every socket has closed, or after `timeoutMs`. */
async function settle(sockets: readonly WebSocket[], timeoutMs: number): Promise<void> {
  const open = sockets.filter((ws) => ws.readyState !== WebSocket.CLOSED);
  if (open.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(open.map((ws) => new Promise((resolve) => ws.once("close", resolve)))),
    new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}
