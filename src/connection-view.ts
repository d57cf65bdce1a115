/**
 * What user code is handed as a connection (`this.connection`, `authenticate`'s argument,
 * pub/sub subscribers): exactly `ConnectionInfo`, and nothing that reaches the socket, the
 * output or the statechart. The `Connection` itself also has `send`, `closeNow` and the
 * runner's hooks; a cast in an application must not find them. One view per connection,
 * made on first use, so maps keyed by it (logins, subscriptions) see one identity.
 */
import type { Logger } from "pino";
import type { ConnectionInfo, ConnectionState } from "./connection-info.js";
import type { WireProtocol } from "./protocol/wire.js";
import type { ReplyValue } from "./reply.js";

export class ConnectionView implements ConnectionInfo {
  readonly #target: ConnectionInfo;

  constructor(target: ConnectionInfo) {
    this.#target = target;
  }

  get id(): string {
    return this.#target.id;
  }
  get user(): string | null {
    return this.#target.user;
  }
  set user(user: string | null) {
    this.#target.user = user;
  }
  get remoteAddress(): string | undefined {
    return this.#target.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#target.remotePort;
  }
  get header(): Readonly<Record<string, string>> {
    return this.#target.header;
  }
  get state(): ConnectionState {
    return this.#target.state;
  }
  get logger(): Logger {
    return this.#target.logger;
  }
  get signal(): AbortSignal {
    return this.#target.signal;
  }
  get clientId(): number {
    return this.#target.clientId;
  }
  get clientName(): string | null {
    return this.#target.clientName;
  }
  set clientName(name: string | null) {
    this.#target.clientName = name;
  }
  get protocol(): WireProtocol {
    return this.#target.protocol;
  }
  setProtocol(protocol: WireProtocol): void {
    this.#target.setProtocol(protocol);
  }
  close(): void {
    this.#target.close();
  }
  push(...values: ReplyValue[]): void {
    this.#target.push(...values);
  }
  /** Shown by console.log and util.inspect: the facts, not a wall of getters. */
  toJSON(): Record<string, unknown> {
    return { id: this.id, clientId: this.clientId, user: this.user, remoteAddress: this.remoteAddress, protocol: this.protocol, state: this.state };
  }
}
