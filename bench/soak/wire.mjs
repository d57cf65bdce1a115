// One client connection with an inbox, and where a reply frame ends in what has arrived:
// every scenario talks to the server through a Wire, so who closed first and what came
// back are recorded the same way everywhere.
import net from "node:net";
import { HOST } from "./config.mjs";
import { nextTick } from "./clock.mjs";
import { server } from "./server-child.mjs";
import { bump, tally } from "./tallies.mjs";

/**
 * One client connection: collects what arrives, records who closed first, and lets a
 * scenario wait (always with a time limit) until enough has arrived or the peer is gone.
 */
export class Wire {
  constructor() {
    this.buffer = Buffer.alloc(0);
    this.offset = 0;
    this.received = 0;
    this.head = ""; // the first 64 bytes received, whatever was parsed since
    this.connected = false;
    this.serverClosed = false; // FIN or reset from the server before we closed
    this.clientClosed = false;
    this.error = null;
    this.closed = false;
    this.writeFailed = false;
    this.waiter = null;
    this.socket = net.connect({ port: server.port, host: HOST });
    this.socket.setNoDelay(true);
    this.socket.on("connect", () => {
      this.connected = true;
      tally.opened++;
      this.#wake();
    });
    this.socket.on("data", (chunk) => {
      if (this.received < 64) this.head += chunk.toString("latin1", 0, 64 - this.received);
      this.received += chunk.length;
      this.buffer = this.offset === this.buffer.length ? chunk : Buffer.concat([this.buffer.subarray(this.offset), chunk]);
      this.offset = 0;
      this.#wake();
    });
    this.socket.on("end", () => this.#peerGone());
    this.socket.on("error", (error) => {
      this.error ??= error;
      if (this.connected) this.#peerGone();
      this.#wake();
    });
    this.socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
  }

  #peerGone() {
    if (!this.clientClosed) this.serverClosed = true;
    this.#wake();
  }

  #wake() {
    const waiter = this.waiter;
    if (waiter && (waiter.test() || this.closed || (!waiter.untilClosed && (this.serverClosed || this.error)))) {
      this.waiter = null;
      clearTimeout(waiter.timer);
      waiter.resolve(waiter.test());
    }
  }

  /**
   * Resolves true once `test()` holds; false when the time is up or the peer went first
   * (with `untilClosed`, only the socket's full close ends the wait early).
   */
  wait(test, ms, { untilClosed = false } = {}) {
    if (test()) return Promise.resolve(true);
    if (this.closed || (!untilClosed && (this.serverClosed || this.error))) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.waiter = {
        test,
        untilClosed,
        resolve,
        timer: setTimeout(() => {
          this.waiter = null;
          resolve(test());
        }, ms),
      };
    });
  }

  /** Connects; false (counted) on refusal or timeout. */
  async open(ms = 5000) {
    const ok = await this.wait(() => this.connected, ms);
    if (!ok) {
      tally.connectErrors++;
      this.socket.destroy();
    }
    return ok;
  }

  get gone() {
    return this.closed || this.serverClosed || this.error !== null;
  }

  /** Server-closed wires wait for the close so the count is final. */
  waitClosed(ms) {
    return this.wait(() => this.closed, ms, { untilClosed: true });
  }

  write(bytes) {
    if (this.socket.destroyed || !this.socket.writable) return;
    // A write that hits a connection the server already closed (EPIPE, ECONNRESET) destroys
    // the socket before what the server sent last is read: scenarios that expect a close
    // check this flag before calling a missing reply wrong.
    this.socket.write(bytes, (error) => {
      if (error) this.writeFailed = true;
    });
  }

  /** Writes `bytes` in `pieces` random parts, each its own write. */
  async writePieces(bytes, rng, pieces) {
    const cuts = new Set();
    for (let i = 1; i < pieces; i++) cuts.add(rng.int(1, Math.max(1, bytes.length - 1)));
    let from = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      this.write(bytes.subarray(from, cut));
      from = cut;
      await nextTick();
    }
    this.write(bytes.subarray(from));
  }

  /** The next whole reply frame (RESP or a text line) as a Buffer, or null. */
  frame(format) {
    const end = format === "resp" ? respFrameEnd(this.buffer, this.offset) : textFrameEnd(this.buffer, this.offset);
    if (end < 0) return null;
    const frame = this.buffer.subarray(this.offset, end);
    this.offset = end;
    return frame;
  }

  /** Unparsed bytes, as text. */
  rest() {
    return this.buffer.subarray(this.offset).toString("latin1");
  }

  /** Counts who closed, with `why` naming a server-side close. */
  #account(why) {
    if (this.counted) return;
    this.counted = true;
    if (!this.connected) return;
    if (this.serverClosed) bump(tally.closedByServer, why);
    else tally.closedByClient++;
  }

  /** Graceful close from our side (destroyed if the server does not finish within 2 s). */
  end(why = "unexpected") {
    if (!this.serverClosed) this.clientClosed = true;
    this.#account(why);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(why = "unexpected") {
    if (!this.serverClosed) this.clientClosed = true;
    this.#account(why);
    this.socket.destroy();
  }

  reset(why = "unexpected") {
    if (!this.serverClosed) this.clientClosed = true;
    this.#account(why);
    if (this.socket.resetAndDestroy && this.connected) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }
}

/** How a wire ended, for failure records. */
export function peer(wire) {
  return { serverClosed: wire.serverClosed, error: wire.error?.code ?? null };
}

/** End of the RESP2 reply starting at `pos`, or -1 if it has not fully arrived. */
function respFrameEnd(buf, pos) {
  if (pos >= buf.length) return -1;
  const lf = buf.indexOf(0x0a, pos);
  if (lf < 0) return -1;
  const type = buf[pos];
  if (type === 0x24 /* $ */) {
    const length = Number(buf.toString("latin1", pos + 1, lf - 1));
    if (!(length >= 0)) return lf + 1; // $-1 (or junk, left to the comparison)
    const end = lf + 1 + length + 2;
    return end <= buf.length ? end : -1;
  }
  if (type === 0x2a /* * */) {
    const count = Number(buf.toString("latin1", pos + 1, lf - 1));
    let at = lf + 1;
    for (let i = 0; i < count; i++) {
      at = respFrameEnd(buf, at);
      if (at < 0) return -1;
    }
    return at;
  }
  return lf + 1;
}

/** End of the text reply line starting at `pos`, or -1. */
function textFrameEnd(buf, pos) {
  const crlf = buf.indexOf("\r\n", pos);
  return crlf < 0 ? -1 : crlf + 2;
}
