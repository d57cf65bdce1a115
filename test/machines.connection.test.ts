/**
 * The connection statechart on its own: no sockets, a real supervisor actor (the parent of
 * the connection actor, as in the server) with a recording handler actor provided in place
 * of its placeholder.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AnyActorRef, createActor, waitFor } from "xstate";
import { type ConnectionEvent, connectionMachine, connectionStateOf, type ConnectionInput, mayRunAuthenticated } from "../machines/connection.machine.js";
import { type CloseReason, type ParsedItem } from "../src/protocol/wire.js";
import { type HandlerEvent } from "../machines/handler-event.js";
import { handlerLogic, supervisorMachine } from "../machines/supervisor.machine.js";

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

function setup(input: Partial<Omit<ConnectionInput, "supervisor">> = {}) {
  /** Every batch the supervisor's handler actor received. */
  const batches: (readonly ParsedItem[])[] = [];
  const connectionIds: string[] = [];
  const handler = handlerLogic((event: HandlerEvent) => {
    connectionIds.push(event.connectionId);
    batches.push(event.items);
  });
  const supervisor = createActor(supervisorMachine.provide({ actors: { handler } }), { input: { startedAt: 0 } });
  supervisor.start();
  started.push(supervisor);
  // As the server does: the supervisor is the parent, so both share one actor system and
  // the machine's forwardToHandler finds the handler by its system id.
  const actor = createActor(connectionMachine, {
    parent: supervisor,
    input: { id: "c1", handshake: "line", maxHeaderSize: 16, headerTimeout: 0, supervisor, ...input },
  });
  actor.start();
  started.push(actor);
  return { actor, supervisor, batches, connectionIds };
}

const batch = (...words: string[]): ParsedItem[] => words.map((w) => w.split(" "));

describe("connection machine", () => {
  it("starts in header and reports itself opened to the supervisor", () => {
    const { actor, supervisor } = setup();
    assert.equal(actor.getSnapshot().value, "header");
    assert.equal(actor.getSnapshot().context.header, null);
    assert.equal(connectionStateOf(actor.getSnapshot()), "header");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 1);
    assert.equal(supervisor.getSnapshot().context.connectionsTotal, 1);
  });

  it("never forwards commands in header, and forwards every batch unchanged, with its connection id, once open", () => {
    const { actor, batches, connectionIds } = setup();
    actor.send({ type: "COMMANDS", items: batch("increment a") });
    assert.equal(actor.getSnapshot().value, "header");
    assert.deepEqual(batches, []);

    actor.send({ type: "HEADER", fields: { client: "x" }, size: 8 });
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });
    const first = batch("increment a", "get a");
    const second: ParsedItem[] = [{ error: "Protocol error: unbalanced quotes", close: false }];
    actor.send({ type: "COMMANDS", items: first });
    actor.send({ type: "COMMANDS", items: second });
    assert.equal(batches.length, 2);
    assert.equal(batches[0], first, "the same batch object, not a copy per command");
    assert.equal(batches[1], second);
    assert.deepEqual(connectionIds, ["c1", "c1"]);
  });

  it("run on its own (no supervisor parent, so no handler actor), it drops batches and stays open", () => {
    const supervisor = createActor(supervisorMachine, { input: { startedAt: 0 } }).start();
    started.push(supervisor);
    const actor = createActor(connectionMachine, {
      input: { id: "alone", handshake: "none", maxHeaderSize: 16, headerTimeout: 0, supervisor },
    }).start();
    started.push(actor);
    actor.send({ type: "HEADER_IMPLICIT" });
    actor.send({ type: "COMMANDS", items: batch("ping") });
    assert.equal(actor.getSnapshot().status, "active");
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });
  });

  it("HEADER within the limit opens with its fields (the limit itself included)", () => {
    const { actor } = setup({ maxHeaderSize: 16 });
    actor.send({ type: "HEADER", fields: { a: "1" }, size: 16 });
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });
    assert.deepEqual(actor.getSnapshot().context.header, { a: "1" });
    assert.equal(connectionStateOf(actor.getSnapshot()), "ready");
  });

  it("HEADER_IMPLICIT from a RESP client records its protocol in the same step", () => {
    const { actor } = setup();
    assert.equal(actor.getSnapshot().context.protocol, "text");
    actor.send({ type: "HEADER_IMPLICIT", protocol: "resp2" });
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });
    assert.equal(actor.getSnapshot().context.protocol, "resp2");
  });

  it("HEADER_IMPLICIT opens with an empty header", () => {
    const { actor, batches } = setup({ handshake: "none" });
    actor.send({ type: "HEADER_IMPLICIT" });
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });
    assert.deepEqual(actor.getSnapshot().context.header, {});
    actor.send({ type: "COMMANDS", items: batch("ping") });
    assert.equal(batches.length, 1);
  });

  it("a HEADER over the limit closes with header_too_large and nothing is ever forwarded", () => {
    const { actor, supervisor, batches } = setup({ maxHeaderSize: 16 });
    actor.send({ type: "HEADER", fields: {}, size: 17 });
    const snapshot = actor.getSnapshot();
    assert.equal(snapshot.value, "closed");
    assert.equal(snapshot.status, "done");
    assert.equal(snapshot.context.closeReason, "header_too_large");
    assert.equal(connectionStateOf(snapshot), "closed");
    actor.send({ type: "COMMANDS", items: batch("ping") });
    assert.deepEqual(batches, [], "nothing is forwarded after close");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 0);
  });

  it("closes with header_timeout when no header arrives in time", async () => {
    const { actor, supervisor } = setup({ headerTimeout: 30 });
    const t0 = Date.now();
    const snapshot = await waitFor(actor, (s) => s.status === "done", { timeout: 1000 });
    assert.ok(Date.now() - t0 >= 25, "not before the timeout");
    assert.equal(snapshot.value, "closed");
    assert.equal(snapshot.context.closeReason, "header_timeout");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 0);
  });

  it("the header timeout stops counting once the header arrives", async () => {
    const { actor } = setup({ headerTimeout: 30 });
    actor.send({ type: "HEADER_IMPLICIT" });
    await sleep(80);
    assert.equal(actor.getSnapshot().status, "active");
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });
  });

  it("headerTimeout 0 never fires", async () => {
    const { actor } = setup({ headerTimeout: 0 });
    await sleep(100);
    assert.equal(actor.getSnapshot().status, "active");
    assert.equal(actor.getSnapshot().value, "header");
  });

  it("LOGIN authenticates, a second LOGIN switches user, LOGOUT goes back to ready", () => {
    const { actor } = setup();
    actor.send({ type: "LOGIN", user: "early" });
    assert.equal(actor.getSnapshot().value, "header", "no login before the header");
    assert.equal(actor.getSnapshot().context.user, null);

    actor.send({ type: "HEADER_IMPLICIT" });
    assert.equal(mayRunAuthenticated(actor.getSnapshot()), false);
    actor.send({ type: "LOGOUT" });
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });

    actor.send({ type: "LOGIN", user: "alice" });
    assert.deepEqual(actor.getSnapshot().value, { open: "authenticated" });
    assert.equal(actor.getSnapshot().context.user, "alice");
    assert.equal(connectionStateOf(actor.getSnapshot()), "authenticated");
    assert.equal(mayRunAuthenticated(actor.getSnapshot()), true);

    actor.send({ type: "LOGIN", user: "bob" });
    assert.deepEqual(actor.getSnapshot().value, { open: "authenticated" });
    assert.equal(actor.getSnapshot().context.user, "bob");

    actor.send({ type: "LOGOUT" });
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });
    assert.equal(actor.getSnapshot().context.user, null);
    assert.equal(mayRunAuthenticated(actor.getSnapshot()), false);
  });

  it("forwards commands in ready and in authenticated, across LOGIN/LOGOUT", () => {
    const { actor, batches } = setup();
    actor.send({ type: "HEADER_IMPLICIT" });
    actor.send({ type: "LOGIN", user: "u" });
    actor.send({ type: "COMMANDS", items: batch("auth_test") });
    actor.send({ type: "LOGOUT" });
    actor.send({ type: "COMMANDS", items: batch("ping") });
    assert.equal(batches.length, 2);
  });

  const reasons: CloseReason[] = ["client_closed", "quit", "server_closing", "protocol_error", "socket_error"];
  const reach: Record<string, (send: (event: ConnectionEvent) => void) => void> = {
    header: () => undefined,
    ready: (send) => send({ type: "HEADER", fields: {}, size: 1 }),
    authenticated: (send) => {
      send({ type: "HEADER_IMPLICIT" });
      send({ type: "LOGIN", user: "u" });
    },
  };
  for (const [state, go] of Object.entries(reach)) {
    for (const reason of reasons) {
      it(`CLOSE (${reason}) from ${state} → closed, final, with that reason`, () => {
        const { actor, supervisor, batches } = setup();
        go((e) => actor.send(e));
        assert.equal(connectionStateOf(actor.getSnapshot()), state);
        actor.send({ type: "CLOSE", reason });
        const snapshot = actor.getSnapshot();
        assert.equal(snapshot.value, "closed");
        assert.equal(snapshot.status, "done");
        assert.equal(snapshot.context.closeReason, reason);
        assert.equal(connectionStateOf(snapshot), "closed");
        assert.equal(mayRunAuthenticated(snapshot), false);
        // Nothing is forwarded afterwards.
        actor.send({ type: "COMMANDS", items: batch("ping") });
        assert.deepEqual(batches, []);
        assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 0);
        assert.equal(supervisor.getSnapshot().context.connectionsTotal, 1);
      });
    }
  }

  it("a second CLOSE changes nothing: the first reason stays", () => {
    const { actor, supervisor } = setup();
    actor.send({ type: "HEADER_IMPLICIT" });
    actor.send({ type: "CLOSE", reason: "quit" });
    actor.send({ type: "CLOSE", reason: "client_closed" });
    assert.equal(actor.getSnapshot().context.closeReason, "quit");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 0);
  });
});
