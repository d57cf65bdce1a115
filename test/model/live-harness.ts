/**
 * Live side of the model tests: a test application with ordinary, `@authenticated`, login
 * and logout commands; one real server per profile on 127.0.0.1 with small timeouts; and a
 * `Session` per path, which drives one real client through the model's steps and checks,
 * at each state, what the server allows and refuses and what it says about itself.
 */
import assert from "node:assert/strict";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import type { CloseReason, HandshakeMode, WireProtocol } from "../../src/protocol/wire.js";
import {
  Application,
  authenticated,
  CommandError,
  CommandHandler,
  command,
  parameter,
  passwordAuthenticator,
  RetopyServer,
  type RetopyServerOptions,
  type Status,
  status,
} from "../../src/index.js";
import { eventually } from "../support.js";
import { type ConnectionSnapshot, modelStateOf, type ServerProfile } from "./connection-model.js";
import { CloseReasonLog, LiveObserver } from "./live-observer.js";
import { RawClient, renderReply, resp } from "../wire.js";

export const PASSWORDS = { alice: "alice-pw-1", bob: "bob-pw-2" } as const;
export const MAX_HEADER_SIZE = 255;
export const MAX_LINE_LENGTH = 1024;
export const HEADER_TIMEOUT_MS = 500;
export const IDLE_TIMEOUT_MS = 300;

/** The application every model server runs. */
class ModelCommands extends CommandHandler {
  @parameter()
  ping(): Status {
    return status("PONG");
  }

  @parameter()
  @authenticated
  whoami(): string {
    return `user ${this.connection.user}`;
  }

  @parameter({ name: "username" })
  @parameter({ name: "password" })
  @command({ help: "Logs in on the guarded login path: authenticate username password." })
  async authenticate(): Promise<string> {
    const user = await this.attemptLogin(this.getArgument("username"), this.getArgument("password"));
    if (!user) throw new CommandError("Wrong username or password");
    return `welcome ${user}`;
  }

  @parameter()
  logout(): Status {
    this.connection.user = null;
    return status("OK");
  }

  /** Pushes 64 KiB messages until the connection is cut (bounded, should the limit fail). */
  @parameter()
  async flood(): Promise<void> {
    const message = "f".repeat(64 * 1024);
    for (let i = 0; i < 1000 && !this.signal.aborted; i++) {
      this.connection.push(message);
      await nextTurn();
    }
  }
}

const SHARED: RetopyServerOptions = {
  maxHeaderSize: MAX_HEADER_SIZE,
  maxLineLength: MAX_LINE_LENGTH,
  outputHighWaterMark: 64 * 1024,
  maxOutputBuffer: 256 * 1024,
};

export const PROFILE_OPTIONS: Record<ServerProfile, RetopyServerOptions & { handshake: HandshakeMode; headerTimeout: number }> = {
  auto: { ...SHARED, handshake: "auto", headerTimeout: HEADER_TIMEOUT_MS },
  line: { ...SHARED, handshake: "line", headerTimeout: HEADER_TIMEOUT_MS },
  none: { ...SHARED, handshake: "none", headerTimeout: HEADER_TIMEOUT_MS },
  // The header timeout stays far from the idle timeout, so an idle client in `header` meets only the latter.
  idle: { ...SHARED, handshake: "auto", headerTimeout: 10 * IDLE_TIMEOUT_MS, idleTimeout: IDLE_TIMEOUT_MS },
};

export interface LiveServer {
  readonly profile: ServerProfile;
  readonly server: RetopyServer;
  readonly port: number;
  readonly observer: LiveObserver;
  readonly log: CloseReasonLog;
}

export async function startLiveServer(profile: ServerProfile): Promise<LiveServer> {
  const log = new CloseReasonLog();
  const application = new Application([ModelCommands], {
    authenticate: passwordAuthenticator(PASSWORDS),
    authFailureDelay: 10,
  });
  const server = new RetopyServer(application, { ...PROFILE_OPTIONS[profile], logger: pino({ level: "info" }, log) });
  const observer = new LiveObserver();
  observer.watch(server);
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { profile, server, port, observer, log };
}

export async function stopLiveServer(live: LiveServer): Promise<void> {
  live.observer.stop();
  await live.server.close({ timeout: 2000 });
}

/** How many transitions and batches the server had recorded for a connection, at some moment. */
export interface Mark {
  readonly transitions: number;
  readonly batches: number;
}

/** Where a connection's record starts, before the server has done anything with it. */
export const START: Mark = { transitions: 0, batches: 0 };

/** One client's walk along one model path. */
export class Session {
  readonly live: LiveServer;
  readonly client: RawClient;
  readonly id: string;
  /** The protocol the model says the connection speaks before the step being driven. */
  protocol: WireProtocol = "text";

  private constructor(live: LiveServer, client: RawClient, id: string) {
    this.live = live;
    this.client = client;
    this.id = id;
  }

  /** Connects, and finds this client among the server's connections by its port. */
  static async open(live: LiveServer): Promise<Session> {
    const client = await RawClient.connect(live.port);
    const port = client.socket.localPort;
    let id: string | undefined;
    await eventually(
      () => (id = [...live.server.connections.values()].find((c) => c.remotePort === port)?.id) !== undefined,
      2000,
      "the server to list the new connection",
    );
    return new Session(live, client, id!);
  }

  get limits() {
    return PROFILE_OPTIONS[this.live.profile];
  }

  mark(): Mark {
    const record = this.live.observer.of(this.id);
    return { transitions: record.transitions.length, batches: record.batches };
  }

  /** Transition keys the server's connection actor took since `mark`. */
  transitionsSince(mark: Mark): string[] {
    return this.live.observer.of(this.id).transitions.slice(mark.transitions);
  }

  /**
   * Waits (bounded) until the server's connection actor has taken `count` transitions since
   * `mark`: a step's bytes may still be on their way when its driver returns. A server that
   * takes fewer is caught by the checks that follow.
   */
  async settle(mark: Mark, count: number, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.transitionsSince(mark).length < count && Date.now() < deadline) await sleep(2);
  }

  batchesSince(mark: Mark): number {
    return this.live.observer.of(this.id).batches - mark.batches;
  }

  // ---- what drivers use --------------------------------------------------------------------

  sendRaw(data: string | Buffer): void {
    this.client.write(data);
  }

  /** Sends commands in one write, each as the current protocol frames it. */
  send(...commands: readonly (readonly string[])[]): void {
    this.client.write(
      this.protocol === "text" ? commands.map((words) => `${words.join(" ")}\r\n`).join("") : Buffer.concat(commands.map((words) => resp(...words))),
    );
  }

  /** Reads one reply per expected string, framed as `protocol` (default: the current one), and compares. */
  async expect(expected: readonly string[], protocol: WireProtocol = this.protocol, timeoutMs = 3000): Promise<void> {
    const got =
      protocol === "text"
        ? await this.client.lines(expected.length, timeoutMs)
        : (await this.client.nextReplies(expected.length, protocol === "resp2" ? 2 : 3, timeoutMs)).map(renderReply);
    assert.deepEqual(got, expected);
  }

  async request(words: readonly string[], expected: readonly string[]): Promise<void> {
    this.send(words);
    await this.expect(expected);
  }

  /** HELLO's reply: a RESP3 map, or its RESP2 flattening, naming the protocol now spoken. */
  async expectHello(version: 2 | 3): Promise<void> {
    const [reply] = await this.client.nextReplies(1, version);
    assert.equal(reply?.t, version === 3 ? "map" : "array", `HELLO ${version} replied a ${reply?.t}`);
    const pairs =
      reply.t === "map" ? reply.v : reply.t === "array" ? reply.v.flatMap((v, i, all) => (i % 2 === 0 ? [[v, all[i + 1]!] as const] : [])) : [];
    const proto = pairs.find(([key]) => key.t === "bulk" && key.v.toString() === "proto")?.[1];
    assert.deepEqual(proto, { t: "int", v: BigInt(version) });
  }

  /** Waits until the server's connection actor has reached its final state. */
  async serverClosed(timeoutMs = 5000): Promise<void> {
    await eventually(() => this.live.observer.of(this.id).status === "done", timeoutMs, "the server to close the connection");
  }

  // ---- state checks ------------------------------------------------------------------------

  /** Checks that the server is where the model is, and allows and refuses what that state does. */
  async check(model: ConnectionSnapshot): Promise<void> {
    const state = modelStateOf(model);
    this.protocol = model.context.protocol;
    if (state === "closed") return this.#checkClosed(model.context.closeReason);

    const record = this.live.observer.of(this.id);
    if (record.value !== undefined) assert.deepEqual(record.value, model.value, "the server's connection actor is in the model's state");
    const entry = this.live.server.connections.get(this.id);
    assert.ok(entry, "server.connections still lists the connection");
    assert.equal(entry.state, state, "server.connections reports the model's state");
    assert.equal(entry.protocol, model.context.protocol, "the connection speaks the model's protocol");
    assert.equal(entry.user, model.context.user, "the connection has the model's user");

    if (state === "header") {
      // Nothing has run: not a byte has come back.
      assert.equal(this.client.buffered, "", "nothing is replied before the handshake");
      return;
    }
    assert.deepEqual({ ...entry.header }, { ...model.context.header }, "the header the server kept is the model's");
    // Ordinary commands run; @authenticated ones only once logged in.
    const refusal = this.protocol === "text" ? "-ERR Authorization required" : "-NOAUTH Authentication required.";
    await this.request(["ping"], ["+PONG"]);
    await this.request(["whoami"], [state === "authenticated" ? `user ${model.context.user}` : refusal]);
    assert.equal(entry.state, state, "probing did not change the state");
  }

  async #checkClosed(reason: CloseReason | null): Promise<void> {
    await this.client.closed();
    if (reason !== "client_closed") assert.ok(this.client.endedByServer, "the server closed the socket");
    assert.equal(this.client.buffered, "", "nothing unexpected was sent before the close");
    await eventually(() => !this.live.server.connections.has(this.id), 2000, "the server to drop the connection");
    const record = this.live.observer.of(this.id);
    assert.equal(record.status, "done", "the server's connection actor is done");
    assert.equal(record.value, "closed");
    await eventually(() => this.live.log.reasons.has(this.id), 2000, "the close to be logged");
    assert.equal(this.live.log.reasons.get(this.id), reason, "the server logged the model's close reason");
  }

  close(): void {
    this.client.destroy();
  }
}
