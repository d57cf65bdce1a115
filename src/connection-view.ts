/**
 * What user code is handed as a connection (`this.connection`, `authenticate`'s argument,
 * pub/sub subscribers): exactly `ConnectionInfo`, and nothing that reaches the socket, the
 * output or the statechart. The `Connection` itself also has `send`, `requestClose` and the
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

/**
 * `server.connections`: the live connections by id, each as its `ConnectionView` (the same
 * object its commands get), over the server's own registry without copying it.
 */
export class ConnectionsView implements ReadonlyMap<string, ConnectionInfo> {
  readonly #registry: ReadonlyMap<string, { readonly connection: ConnectionInfo }>;

  constructor(registry: ReadonlyMap<string, { readonly connection: ConnectionInfo }>) {
    this.#registry = registry;
  }

  get size(): number {
    return this.#registry.size;
  }
  get(id: string): ConnectionInfo | undefined {
    return this.#registry.get(id)?.connection;
  }
  has(id: string): boolean {
    return this.#registry.has(id);
  }
  keys(): MapIterator<string> {
    return this.#registry.keys();
  }
  *values(): MapIterator<ConnectionInfo> {
    for (const entry of this.#registry.values()) yield entry.connection;
  }
  *entries(): MapIterator<[string, ConnectionInfo]> {
    for (const [id, entry] of this.#registry) yield [id, entry.connection];
  }
  forEach(callback: (value: ConnectionInfo, key: string, map: ReadonlyMap<string, ConnectionInfo>) => void, thisArg?: unknown): void {
    for (const [id, entry] of this.#registry) callback.call(thisArg, entry.connection, id, this);
  }
  [Symbol.iterator](): MapIterator<[string, ConnectionInfo]> {
    return this.entries();
  }
}
