/**
 * The first line of a connection, read on its own: the handshake (`key=value` header), or,
 * in `auto` mode, a first command that stands in for an empty one. Pure: bytes in, an
 * outcome out, no socket and no statechart; the connection turns outcomes into events.
 *
 * It keeps an unfinished line between reads, refuses one that outgrows `maxHeaderSize`
 * before it even ends, and hands back the bytes after the line for the command decoder.
 */
import { asciiLowerCase } from "../client-text.js";
import { parseHeader } from "./header.js";
import { protocolForHeader } from "./protocols.js";
import { splitArgs } from "./split-args.js";
import type { WireProtocolSpec } from "./wire-protocol.js";
import type { HandshakeMode } from "./wire.js";

const LF = 0x0a;
const CR = 0x0d;

export type HandshakeOutcome =
  /** The line has not ended yet; its bytes are kept for the next read. */
  | { readonly kind: "incomplete" }
  /** The line is longer than allowed (it may not have ended yet). */
  | { readonly kind: "too-large"; readonly size: number }
  /** `auto`: the first line is a command; `rest` holds it and everything after. */
  | { readonly kind: "implicit"; readonly rest: Buffer }
  /** A handshake line; `rest` is what followed it. */
  | {
      readonly kind: "header";
      readonly fields: Readonly<Record<string, string>>;
      readonly size: number;
      readonly rest: Buffer;
      /** `proto=resp2|resp3`. */
      readonly protocol: WireProtocolSpec | undefined;
      /** `auth=user:password`, or `auth=password` for the default user. */
      readonly login: { readonly user: string; readonly password: string } | undefined;
    };

export class HandshakeReader {
  readonly #mode: HandshakeMode;
  readonly #maxHeaderSize: number;
  /** `auto` mode: does this word name a command that may open a connection? */
  readonly #opensConnection: (word: string) => boolean;
  #pending: Buffer | null = null;

  constructor(mode: HandshakeMode, maxHeaderSize: number, opensConnection: (word: string) => boolean) {
    this.#mode = mode;
    this.#maxHeaderSize = maxHeaderSize;
    this.#opensConnection = opensConnection;
  }

  /** Reads `chunk` (the start of the connection's input, or more of an unfinished line). */
  read(chunk: Buffer): HandshakeOutcome {
    const buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = null;
    const lf = buf.indexOf(LF);
    if (lf === -1) {
      // `auto`: a long first command arriving in pieces is a command, not a header.
      if (this.#startsWithCommand(buf)) return { kind: "implicit", rest: buf };
      // The CR of a CRLF split across packets is not part of the line.
      const size = buf[buf.length - 1] === CR ? buf.length - 1 : buf.length;
      if (size > this.#maxHeaderSize) return { kind: "too-large", size };
      this.#pending = buf;
      return { kind: "incomplete" };
    }
    const line = buf.subarray(0, lf > 0 && buf[lf - 1] === CR ? lf - 1 : lf);
    if (this.#mode === "auto") {
      const argv = splitArgs(line);
      if (argv && argv.length > 0 && this.#opensConnection(argv[0]!)) return { kind: "implicit", rest: buf };
    }
    const fields = parseHeader(line);
    const protocol = fields.proto === undefined ? undefined : protocolForHeader(asciiLowerCase(fields.proto));
    const auth = fields.auth;
    let login: { user: string; password: string } | undefined;
    if (auth !== undefined) {
      const colon = auth.indexOf(":");
      login = colon === -1 ? { user: "default", password: auth } : { user: auth.slice(0, colon), password: auth.slice(colon + 1) };
    }
    return { kind: "header", fields, size: line.length, rest: buf.subarray(lf + 1), protocol, login };
  }

  /** `auto` mode: does the unfinished first line start with a command word? */
  #startsWithCommand(buf: Buffer): boolean {
    if (this.#mode !== "auto") return false;
    // A command name is a short word; the header limit bounds how far to look for its end.
    const start = buf.toString("latin1", 0, Math.min(buf.length, this.#maxHeaderSize + 1));
    const word = /^\s*(\S+)\s/.exec(start)?.[1];
    return word !== undefined && this.#opensConnection(word);
  }
}
