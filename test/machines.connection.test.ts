/**
 * The connection statechart on its own: no sockets, a real supervisor actor (the parent of
 * the connection actor, as in the server). Every state and transition of the machine, with
 * what the server reads from it: `connectionPhaseOf`, `connectionStateOf`, `mayRunAuthenticated`.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AnyActorRef, createActor, waitFor } from "xstate";
import {
  type ConnectionEvent,
  type ConnectionInput,
  type ConnectionPhase,
  connectionMachine,
  connectionPhaseOf,
  connectionStateOf,
  mayRunAuthenticated,
} from "../machines/connection.machine.js";
import { supervisorMachine } from "../machines/supervisor.machine.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const started: AnyActorRef[] = [];
afterEach(() => {
  // A connection actor has the supervisor as parent, and XState only lets roots be stopped
  // directly: a connection ends by reaching `closed`, as in the server.
  for (const actor of started.splice(0).reverse()) {
    if (actor._parent) actor.send({ type: "CLOSE", reason: "server_closing" });
    else actor.stop();
  }
});

function setup(input: Partial<Omit<ConnectionInput, "supervisor">> = {}, machine = connectionMachine) {
  const supervisor = createActor(supervisorMachine, { input: { startedAt: 0 } });
  supervisor.start();
  started.push(supervisor);
  const actor = createActor(machine, {
    id: "connection", // as the server names every connection actor; the supervisor knows them by it
    parent: supervisor,
    input: { id: "c1", handshake: "line", maxHeaderSize: 16, headerTimeout: 0, lingerTimeout: 60_000, supervisor, ...input },
  });
  actor.start();
  started.push(actor);
  const send = (...events: ConnectionEvent[]) => {
    for (const event of events) actor.send(event);
  };
  const phase = () => connectionPhaseOf(actor.getSnapshot());
  const current = () => supervisor.getSnapshot().context.connectionsCurrent;
  return { actor, supervisor, send, phase, current };
}

const OPEN: ConnectionEvent = { type: "HEADER_IMPLICIT" };
const DRAIN: ConnectionEvent = { type: "DRAIN", reason: "server_closing" };
const QUIT: ConnectionEvent = { type: "QUIT", reason: "quit" };

describe("connection machine: the handshake", () => {
  it("starts in header and reports itself opened to the supervisor", () => {
    const { actor, supervisor, phase } = setup();
    assert.equal(actor.getSnapshot().value, "header");
    assert.equal(actor.getSnapshot().context.header, null);
    assert.equal(phase(), "header");
    assert.equal(connectionStateOf(actor.getSnapshot()), "header");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 1);
    assert.equal(supervisor.getSnapshot().context.connectionsTotal, 1);
  });

  it("HEADER within the limit opens with its fields (the limit itself included), reading, not logged in", () => {
    const { actor, send, phase } = setup({ maxHeaderSize: 16 });
    send({ type: "HEADER", fields: { a: "1" }, size: 16 });
    assert.deepEqual(actor.getSnapshot().value, { open: { auth: "ready", flow: { serving: "reading" } } });
    assert.deepEqual(actor.getSnapshot().context.header, { a: "1" });
    assert.equal(phase(), "reading");
    assert.equal(connectionStateOf(actor.getSnapshot()), "ready");
    assert.equal(mayRunAuthenticated(actor.getSnapshot()), false);
  });

  it("HEADER_IMPLICIT opens with an empty header; from a RESP client it records the protocol in the same step", () => {
    const { actor, send } = setup();
    assert.equal(actor.getSnapshot().context.protocol, "text");
    send({ type: "HEADER_IMPLICIT", protocol: "resp2" });
    assert.equal(connectionPhaseOf(actor.getSnapshot()), "reading");
    assert.deepEqual(actor.getSnapshot().context.header, {});
    assert.equal(actor.getSnapshot().context.protocol, "resp2");
  });

  it("a HEADER over the limit lingers with header_too_large; the supervisor counts it open until it is closed", () => {
    const { actor, send, phase, current } = setup({ maxHeaderSize: 16 });
    send({ type: "HEADER", fields: {}, size: 17 });
    assert.equal(phase(), "lingering");
    assert.equal(actor.getSnapshot().context.closeReason, "header_too_large");
    assert.equal(connectionStateOf(actor.getSnapshot()), "closed", "a lingering connection serves nothing");
    assert.equal(current(), 1, "the socket is still there");
    send({ type: "CLOSE", reason: "client_closed" });
    assert.equal(actor.getSnapshot().status, "done");
    assert.equal(actor.getSnapshot().context.closeReason, "header_too_large", "the first reason stays");
    assert.equal(current(), 0);
  });

  it("the header timeout lingers with header_timeout, and the linger timer closes it", async () => {
    const { actor, phase, current } = setup({ headerTimeout: 30, lingerTimeout: 40 });
    const t0 = Date.now();
    await waitFor(actor, (s) => connectionPhaseOf(s) === "lingering", { timeout: 1000 });
    assert.ok(Date.now() - t0 >= 25, "not before the timeout");
    assert.equal(actor.getSnapshot().context.closeReason, "header_timeout");
    assert.equal(current(), 1);
    const snapshot = await waitFor(actor, (s) => s.status === "done", { timeout: 1000 });
    assert.ok(Date.now() - t0 >= 60, "the linger timer ran");
    assert.equal(snapshot.value, "closed");
    assert.equal(phase(), "closed");
    assert.equal(current(), 0);
  });

  it("the header timeout stops counting once the header arrives; headerTimeout 0 never fires", async () => {
    const opened = setup({ headerTimeout: 30 });
    opened.send(OPEN);
    const waiting = setup({ headerTimeout: 0 });
    await sleep(80);
    assert.equal(opened.phase(), "reading");
    assert.equal(waiting.phase(), "header");
  });

  for (const [event, reason] of [
    [DRAIN, "server_closing"],
    [QUIT, "quit"],
    [{ type: "IDLE_TIMEOUT" }, "idle_timeout"],
  ] as const) {
    it(`${event.type} in header lingers at once (nothing can be owed yet), with ${reason}`, () => {
      const { actor, send, phase } = setup();
      send(event);
      assert.equal(phase(), "lingering");
      assert.equal(actor.getSnapshot().context.closeReason, reason);
    });
  }

  it("no login and no output events before the handshake", () => {
    const { actor, send, phase } = setup();
    send({ type: "LOGIN", user: "early" }, { type: "LOGOUT" }, { type: "OUTPUT_BACKED_UP" }, { type: "REPLIES_SENT" });
    assert.equal(phase(), "header");
    assert.equal(actor.getSnapshot().context.user, null);
  });
});

describe("connection machine: open", () => {
  it("LOGIN authenticates, a second LOGIN switches user, LOGOUT goes back to ready", () => {
    const { actor, send } = setup();
    send(OPEN, { type: "LOGOUT" });
    assert.equal(connectionStateOf(actor.getSnapshot()), "ready");
    send({ type: "LOGIN", user: "alice" });
    assert.equal(connectionStateOf(actor.getSnapshot()), "authenticated");
    assert.equal(actor.getSnapshot().context.user, "alice");
    assert.equal(mayRunAuthenticated(actor.getSnapshot()), true);
    send({ type: "LOGIN", user: "bob" });
    assert.equal(actor.getSnapshot().context.user, "bob");
    send({ type: "LOGOUT" });
    assert.equal(connectionStateOf(actor.getSnapshot()), "ready");
    assert.equal(actor.getSnapshot().context.user, null);
    assert.equal(mayRunAuthenticated(actor.getSnapshot()), false);
  });

  it("reading pauses while the output is backed up and resumes once it caught up; logins go on meanwhile", () => {
    const { actor, send, phase } = setup();
    send(OPEN, { type: "OUTPUT_BACKED_UP" });
    assert.equal(phase(), "paused");
    send({ type: "LOGIN", user: "ada" }, { type: "OUTPUT_BACKED_UP" });
    assert.equal(phase(), "paused");
    assert.equal(mayRunAuthenticated(actor.getSnapshot()), true);
    send({ type: "OUTPUT_CAUGHT_UP" });
    assert.equal(phase(), "reading");
    assert.equal(connectionStateOf(actor.getSnapshot()), "authenticated");
  });

  it("IDLE_TIMEOUT closes a reading connection, and a paused one (a client that reads nothing is idle)", () => {
    for (const path of [[OPEN], [OPEN, { type: "OUTPUT_BACKED_UP" } as const]]) {
      const { actor, send, phase } = setup();
      send(...path, { type: "IDLE_TIMEOUT" });
      assert.equal(phase(), "lingering");
      assert.equal(actor.getSnapshot().context.closeReason, "idle_timeout");
    }
  });

  it("PROTOCOL switches the protocol in any state", () => {
    const { actor, send } = setup();
    send({ type: "PROTOCOL", protocol: "resp3" });
    assert.equal(actor.getSnapshot().context.protocol, "resp3");
    send(OPEN, { type: "PROTOCOL", protocol: "resp2" });
    assert.equal(actor.getSnapshot().context.protocol, "resp2");
  });
});

describe("connection machine: closing", () => {
  for (const from of ["reading", "paused"] as const) {
    it(`DRAIN from ${from} finishes the queue (afterQueue), keeps the login, reads nothing more, then lingers on REPLIES_SENT`, () => {
      const { actor, send, phase, current } = setup();
      send(OPEN, { type: "LOGIN", user: "ada" });
      if (from === "paused") send({ type: "OUTPUT_BACKED_UP" });
      send(DRAIN);
      assert.equal(phase(), "afterQueue");
      assert.equal(actor.getSnapshot().context.closeReason, "server_closing");
      assert.equal(mayRunAuthenticated(actor.getSnapshot()), true, "queued @authenticated commands still run as ada");
      assert.equal(connectionStateOf(actor.getSnapshot()), "authenticated");
      send({ type: "OUTPUT_CAUGHT_UP" }, { type: "IDLE_TIMEOUT" }, DRAIN);
      assert.equal(phase(), "afterQueue", "reading does not resume, the idle sweep and a second drain change nothing");
      send({ type: "REPLIES_SENT" });
      assert.equal(phase(), "lingering");
      assert.equal(current(), 1);
    });
  }

  it("QUIT replies to the running command only (afterReply); DRAIN then changes nothing", () => {
    const { actor, send, phase } = setup();
    send(OPEN, QUIT);
    assert.equal(phase(), "afterReply");
    assert.equal(actor.getSnapshot().context.closeReason, "quit");
    send(DRAIN);
    assert.equal(phase(), "afterReply");
    send({ type: "REPLIES_SENT" });
    assert.equal(phase(), "lingering");
    assert.equal(actor.getSnapshot().context.closeReason, "quit");
  });

  it("QUIT while finishing the queue: the running command's reply is the last, and the quit's reason is logged", () => {
    const { actor, send, phase } = setup();
    send(OPEN, DRAIN, { type: "QUIT", reason: "protocol_error" });
    assert.equal(phase(), "afterReply");
    assert.equal(actor.getSnapshot().context.closeReason, "protocol_error");
  });

  it("lingering: only CLOSE or the linger timer end it; the first close reason stays", () => {
    const { actor, send, phase, current } = setup();
    send(OPEN, QUIT, { type: "REPLIES_SENT" }, { type: "LOGIN", user: "late" }, DRAIN, { type: "IDLE_TIMEOUT" }, { type: "OUTPUT_CAUGHT_UP" });
    assert.equal(phase(), "lingering");
    assert.equal(actor.getSnapshot().context.user, null);
    send({ type: "CLOSE", reason: "client_closed" });
    assert.equal(phase(), "closed");
    assert.equal(actor.getSnapshot().context.closeReason, "quit", "the client closing its side keeps the reason");
    assert.equal(current(), 0);
  });
});

describe("connection machine: CLOSE from every phase", () => {
  const reach: Record<Exclude<ConnectionPhase, "closed">, ConnectionEvent[]> = {
    header: [],
    reading: [OPEN],
    paused: [OPEN, { type: "OUTPUT_BACKED_UP" }],
    afterQueue: [OPEN, DRAIN],
    afterReply: [OPEN, QUIT],
    lingering: [OPEN, QUIT, { type: "REPLIES_SENT" }],
  };
  for (const [where, path] of Object.entries(reach)) {
    it(`${where} → closed on CLOSE (output_limit), final, counted closed`, () => {
      const { actor, supervisor, send, phase } = setup();
      send(...path);
      assert.equal(phase(), where);
      send({ type: "CLOSE", reason: "output_limit" });
      const snapshot = actor.getSnapshot();
      assert.equal(snapshot.value, "closed");
      assert.equal(snapshot.status, "done");
      assert.equal(snapshot.context.closeReason, "output_limit", "a cut for the output limit is why it closed, whatever close was under way");
      assert.equal(connectionStateOf(snapshot), "closed");
      assert.equal(mayRunAuthenticated(snapshot), false);
      assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 0);
      assert.equal(supervisor.getSnapshot().context.connectionsTotal, 1);
    });
  }
});

describe("connection machine: a failure costs the connection, never the supervisor", () => {
  it("an action that throws errors the connection actor; the supervisor counts it closed and keeps running", () => {
    const broken = connectionMachine.provide({
      actions: {
        assignUser: () => {
          throw new Error("a bug in an action");
        },
      },
    });
    const { actor, supervisor, send } = setup({}, broken);
    const other = createActor(connectionMachine, {
      id: "connection",
      parent: supervisor,
      input: { id: "c2", handshake: "line", maxHeaderSize: 16, headerTimeout: 0, lingerTimeout: 60_000, supervisor },
    }).start();
    started.push(other);
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 2);
    actor.subscribe({ error: () => undefined }); // the server logs it; here it must not be unhandled
    send(OPEN, { type: "LOGIN", user: "ada" });
    assert.equal(actor.getSnapshot().status, "error");
    assert.equal(supervisor.getSnapshot().status, "active", "the supervisor survives");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 1, "the failed connection is counted closed");
    other.send(OPEN);
    assert.equal(connectionPhaseOf(other.getSnapshot()), "reading", "the other connection goes on");
  });
});
