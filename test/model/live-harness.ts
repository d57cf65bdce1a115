/**
 * Live side of the model tests: a test application with ordinary, `@authenticated`, login,
 * logout and held (until the test releases it) commands; one real server per profile on
 * 127.0.0.1 with small timeouts (a path that shuts its server down gets its own); and a
 * `Session` per path, which drives one real client through the model's steps and checks,
 * at each state, what the server allows and refuses and what it says about itself.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
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
import { connectionStateOf } from "../../machines/connection.machine.js";
import { type ConnectionSnapshot, modelStateOf, type ServerProfile } from "./connection-model.js";
import { CloseReasonLog, LiveObserver } from "./live-observer.js";
import { RawClient, renderReply, resp } from "../wire.js";

export const PASSWORDS = { alice: "alice-pw-1", bob: "bob-pw-2" } as const;
export const MAX_HEADER_SIZE = 255;
export const MAX_LINE_LENGTH = 1024;
export const HEADER_TIMEOUT_MS = 500;
export const IDLE_TIMEOUT_MS = 300;
/** What the server's own `lingering` timer waits (src/socket-output.ts LINGER_MS). */
export const LINGER_TIMEOUT_MS = 2000;

/** A held command of a connection: `hold` runs until the test releases it. */
interface Hold {
  readonly entered: () => void;
  readonly released: Promise<void>;
}
const HOLDS = new Map<string, Hold>();

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

  /** Runs until the test releases it (`Session.hold`): a command still owed its reply. */
  @parameter()
  async hold(): Promise<string> {
    const hold = HOLDS.get(this.connection.id);
    if (!hold) return "not held";
    hold.entered();
    await hold.released;
    return "held";
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
  // Debug: "connection closed" (with its reason, which CloseReasonLog keeps) is a debug line.
  const server = new RetopyServer(application, { ...PROFILE_OPTIONS[profile], logger: pino({ level: "debug" }, log) });
  const observer = new LiveObserver();
  observer.watch(server);
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { profile, server, port, observer, log };
}

export async function stopLiveServer(live: LiveServer): Promise<void> {
  live.observer.stop();
  await live.server.close({ timeout: 2000 });
}

/** A 64 KiB message, for pushes that fill the client's buffers. */
const FILLER = "f".repeat(64 * 1024);
/** The push that ends a run of fillers: the client drops everything through it. */
const MARKER = "end-of-filler";

/** One client's walk along one model path. */
export class Session {
  readonly live: LiveServer;
  readonly client: RawClient;
  readonly id: string;
  /** The protocol the model says the connection speaks before the step being driven. */
  protocol: WireProtocol = "text";
  /** Where the model is before the step being driven. */
  model: ConnectionSnapshot | null = null;
  /** The server's shutdown, once a step started it. */
  shutdown: Promise<unknown> | null = null;
  /** How many of the server's transitions for this connection the steps so far accounted for. */
  consumed = 0;
  #hold: { entered: Promise<void>; release: () => void; pipelined: number } | null = null;

  private constructor(live: LiveServer, client: RawClient, id: string) {
    this.live = live;
    this.client = client;
    this.id = id;
  }

  /**
   * Connects, and finds this client among the server's connections by its port. The client
   * keeps its side open when the server ends the connection (allowHalfOpen), so a lingering
   * connection stays lingering until a step closes it.
   */
  static async open(live: LiveServer): Promise<Session> {
    const client = await RawClient.connect(live.port, { allowHalfOpen: true });
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

  /** The server's view of this connection, while it lists it. */
  get entry() {
    return this.live.server.connections.get(this.id);
  }

  /** Transition keys the server's connection actor took and no step has accounted for yet. */
  unconsumed(): string[] {
    return this.live.observer.of(this.id).transitions.slice(this.consumed);
  }

  /** The state value the server's actor was in after the transitions accounted for so far (its initial state before any). */
  valueAtConsumed(): unknown {
    return this.consumed === 0 ? "header" : this.live.observer.of(this.id).values[this.consumed - 1];
  }

  /**
   * Waits (bounded) until the server's connection actor has taken `count` transitions no step
   * accounted for: a step's bytes may still be on their way when its driver returns. A server
   * that takes fewer is caught by the checks that follow.
   */
  async settle(count: number, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.unconsumed().length < count && Date.now() < deadline) await sleep(2);
  }

  batches(): number {
    return this.live.observer.of(this.id).batches;
  }

  /** The live phase the server's actor is in now (for drivers that wait on the server). */
  #liveValue(): unknown {
    return this.live.observer.of(this.id).value;
  }

  async #serverReaches(predicate: (value: unknown) => boolean, what: string, timeoutMs = 3000): Promise<void> {
    await eventually(() => predicate(this.#liveValue()) || this.live.observer.of(this.id).status !== "active", timeoutMs, what);
  }

  // ---- operator actions, through the server's public API ----------------------------------

  /** Stops reading, and pushes 64 KiB messages through `server.connections` until the server pauses reading. */
  async pushUntilPaused(): Promise<void> {
    this.client.pause();
    const paused = (value: unknown) => JSON.stringify(value).includes('"paused"');
    // Bounded: the kernel's buffers take a few MB; the output limit is 256 KiB beyond them.
    for (let i = 0; i < 400 && !paused(this.#liveValue()); i++) {
      this.entry?.push(FILLER);
      await sleep(1);
    }
    assert.ok(paused(this.#liveValue()), "the server paused reading");
  }

  /** Pushes until the server cuts the connection at maxOutputBuffer. */
  async pushUntilCut(): Promise<void> {
    for (let i = 0; i < 400 && this.live.observer.of(this.id).status === "active"; i++) {
      this.entry?.push(FILLER);
      await sleep(1);
    }
    this.client.resumeDiscarding(); // then read what the kernel still holds, up to the close
  }

  /** Reads the pushed messages; once the server resumed, one last push marks the end of them. */
  async readPushes(): Promise<void> {
    const through = this.client.discardThrough(`${MARKER}\r\n`); // every protocol ends the frame there
    await this.#serverReaches((value) => !JSON.stringify(value).includes('"paused"'), "the server to resume reading");
    this.entry?.push(MARKER);
    await through;
  }

  /** Sends `hold` (and `ping` behind it) in one write, and waits until hold runs. */
  async hold(): Promise<void> {
    let entered!: () => void;
    let release!: () => void;
    const enteredPromise = new Promise<void>((resolve) => (entered = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    HOLDS.set(this.id, { entered, released });
    this.#hold = { entered: enteredPromise, release, pipelined: 1 };
    this.send(["hold"], ["ping"]);
    await enteredPromise;
  }

  /** Lets a held command finish; resolves with what the client should get for it (and the ping behind it, unless dropped). */
  release(withQueued: boolean): string[] {
    const hold = this.#hold;
    if (!hold) return [];
    this.#hold = null;
    hold.release();
    return withQueued ? ["held", "+PONG"] : ["held"];
  }

  /** Shuts the server down, as an operator would; the close goes on while later steps run. */
  shutDown(): void {
    this.shutdown ??= this.live.server.close({ timeout: 10_000 });
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

  /**
   * Checks that the server is where the model is, and allows and refuses what that state
   * does. In a state the server passes through without waiting on the client (closing after a
   * quit, say), the server's record of the state it was in is what is compared.
   */
  async check(model: ConnectionSnapshot, closedByClient: boolean): Promise<void> {
    const state = modelStateOf(model);
    this.protocol = model.context.protocol;
    this.model = model;
    if (state === "closed") return this.#checkClosed(model.context.closeReason, closedByClient);

    assert.deepEqual(this.valueAtConsumed(), model.value, "the server's connection actor was in the model's state");
    // It has moved on without waiting on the client (a quit's reply went out): its record said
    // where it was, and the model's next step accounts for where it went.
    if (this.unconsumed().length > 0) return;
    const entry = this.entry;
    assert.ok(entry, "server.connections still lists the connection");
    assert.equal(entry.protocol, model.context.protocol, "the connection speaks the model's protocol");
    if (state === "lingering") {
      assert.equal(entry.state, "closed", "a lingering connection reports itself closed");
      // A client that stopped reading sees the end only after what is queued before it.
      if (this.client.socket.isPaused()) this.client.resumeDiscarding();
      await eventually(() => this.client.endedByServer, 3000, "the server to end the connection");
      assert.equal(this.client.buffered, "", "nothing unexpected was sent before the end");
      return;
    }
    assert.equal(entry.state, connectionStateOf(model), "server.connections reports the model's state");
    assert.equal(entry.user, model.context.user, "the connection has the model's user");
    if (state === "header") {
      // Nothing has run: not a byte has come back.
      assert.equal(this.client.buffered, "", "nothing is replied before the handshake");
      return;
    }
    if (state !== "ready" && state !== "authenticated") return; // reading is paused or over: nothing to probe

    assert.deepEqual({ ...entry.header }, { ...model.context.header }, "the header the server kept is the model's");
    // Ordinary commands run; @authenticated ones only once logged in. One write: one batch.
    const refusal = this.protocol === "text" ? "-ERR Authorization required" : "-NOAUTH Authentication required.";
    const batches = this.batches();
    this.send(["ping"], ["whoami"]);
    await this.expect(["+PONG", state === "authenticated" ? `user ${model.context.user}` : refusal]);
    assert.ok(this.batches() > batches, "the handler actor received the batch");
    if (this.protocol === "text") await this.request(['ping "oops'], ["-ERR Protocol error: unbalanced quotes"]); // an error, not a close
    assert.equal(entry.state, connectionStateOf(model), "probing did not change the state");
  }

  async #checkClosed(reason: CloseReason | null, closedByClient: boolean): Promise<void> {
    await eventually(() => this.live.observer.of(this.id).status === "done", LINGER_TIMEOUT_MS + 3000, "the server's connection actor to be done");
    // The client keeps its side open (allowHalfOpen): what it sees of a server's close is the end of the stream.
    if (!closedByClient) await eventually(() => this.client.endedByServer, 3000, "the server to close the socket");
    assert.equal(this.client.buffered, "", "nothing unexpected was sent before the close");
    this.client.destroy();
    await eventually(() => !this.live.server.connections.has(this.id), 2000, "the server to drop the connection");
    const record = this.live.observer.of(this.id);
    assert.equal(record.status, "done", "the server's connection actor is done");
    assert.equal(record.value, "closed");
    await eventually(() => this.live.log.reasons.has(this.id), 2000, "the close to be logged");
    assert.equal(this.live.log.reasons.get(this.id), reason, "the server logged the model's close reason");
  }

  /** Ends the walk: a held command is let go, the client closes, and a server shut down by a step finishes closing. */
  async close(): Promise<void> {
    this.release(false);
    HOLDS.delete(this.id);
    this.client.destroy();
    await this.shutdown;
  }
}
