/**
 * The connection statechart on its own: no sockets, a real supervisor actor, and a
 * recording handler actor provided in place of the placeholder.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AnyActorRef, createActor, fromCallback, waitFor } from "xstate";
import {
  type CloseReason,
  type ConnectionEvent,
  connectionMachine,
  connectionStateOf,
  type ConnectionInput,
  type HandlerEvent,
  type HandlerInput,
  mayRunAuthenticated,
  type ParsedItem,
} from "../machines/connection.machine.js";
import { supervisorMachine } from "../machines/supervisor.machine.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const started: AnyActorRef[] = [];
afterEach(() => {
  for (const actor of started.splice(0)) actor.stop();
});

function setup(input: Partial<Omit<ConnectionInput, "supervisor">> = {}) {
  const supervisor = createActor(supervisorMachine, { input: { startedAt: 0 } });
  supervisor.start();
  started.push(supervisor);
  /** Every batch the handler received, and when its actor started and stopped. */
  const batches: (readonly ParsedItem[])[] = [];
  const handlerLog: string[] = [];
  const handler = fromCallback<HandlerEvent, HandlerInput>(({ input: handlerInput, receive }) => {
    handlerLog.push(`start:${handlerInput.connectionId}`);
    receive((event) => {
      assert.equal(event.type, "COMMANDS");
      batches.push(event.items);
    });
    return () => handlerLog.push("stop");
  });
  const actor = createActor(connectionMachine.provide({ actors: { handler } }), {
    input: { id: "c1", handshake: "line", maxHeaderSize: 16, headerTimeout: 0, supervisor, ...input },
  });
  actor.start();
  started.push(actor);
  return { actor, supervisor, batches, handlerLog };
}

const batch = (...words: string[]): ParsedItem[] => words.map((w) => ({ argv: w.split(" ") }));

describe("connection machine", () => {
  it("starts in header and reports itself opened to the supervisor", () => {
    const { actor, supervisor, handlerLog } = setup();
    assert.equal(actor.getSnapshot().value, "header");
    assert.equal(actor.getSnapshot().context.header, null);
    assert.equal(connectionStateOf(actor.getSnapshot()), "header");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 1);
    assert.equal(supervisor.getSnapshot().context.connectionsTotal, 1);
    assert.deepEqual(handlerLog, [], "no handler before the header");
  });

  it("never forwards commands in header, and forwards every batch unchanged once open", () => {
    const { actor, batches, handlerLog } = setup();
    actor.send({ type: "COMMANDS", items: batch("increment a") });
    assert.equal(actor.getSnapshot().value, "header");
    assert.deepEqual(batches, []);

    actor.send({ type: "HEADER", fields: { client: "x" }, size: 8 });
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });
    assert.deepEqual(handlerLog, ["start:c1"]);
    const first = batch("increment a", "get a");
    const second: ParsedItem[] = [{ error: "Protocol error: unbalanced quotes", close: false }];
    actor.send({ type: "COMMANDS", items: first });
    actor.send({ type: "COMMANDS", items: second });
    assert.equal(batches.length, 2);
    assert.equal(batches[0], first, "the same batch object, not a copy per command");
    assert.equal(batches[1], second);
  });

  it("HEADER within the limit opens with its fields (the limit itself included)", () => {
    const { actor } = setup({ maxHeaderSize: 16 });
    actor.send({ type: "HEADER", fields: { a: "1" }, size: 16 });
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });
    assert.deepEqual(actor.getSnapshot().context.header, { a: "1" });
    assert.equal(connectionStateOf(actor.getSnapshot()), "ready");
  });

  it("HEADER_IMPLICIT opens with an empty header", () => {
    const { actor, batches } = setup({ handshake: "none" });
    actor.send({ type: "HEADER_IMPLICIT" });
    assert.deepEqual(actor.getSnapshot().value, { open: "ready" });
    assert.deepEqual(actor.getSnapshot().context.header, {});
    actor.send({ type: "COMMANDS", items: batch("ping") });
    assert.equal(batches.length, 1);
  });

  it("a HEADER over the limit closes with header_too_large and no handler ever runs", () => {
    const { actor, supervisor, handlerLog, batches } = setup({ maxHeaderSize: 16 });
    actor.send({ type: "HEADER", fields: {}, size: 17 });
    const snapshot = actor.getSnapshot();
    assert.equal(snapshot.value, "closed");
    assert.equal(snapshot.status, "done");
    assert.equal(snapshot.context.closeReason, "header_too_large");
    assert.equal(connectionStateOf(snapshot), "closed");
    assert.deepEqual(handlerLog, []);
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

  it("the handler keeps running across LOGIN/LOGOUT (one handler per open connection)", () => {
    const { actor, handlerLog, batches } = setup();
    actor.send({ type: "HEADER_IMPLICIT" });
    actor.send({ type: "LOGIN", user: "u" });
    actor.send({ type: "COMMANDS", items: batch("auth_test") });
    actor.send({ type: "LOGOUT" });
    actor.send({ type: "COMMANDS", items: batch("ping") });
    assert.deepEqual(handlerLog, ["start:c1"]);
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
        const { actor, supervisor, handlerLog, batches } = setup();
        go((e) => actor.send(e));
        assert.equal(connectionStateOf(actor.getSnapshot()), state);
        actor.send({ type: "CLOSE", reason });
        const snapshot = actor.getSnapshot();
        assert.equal(snapshot.value, "closed");
        assert.equal(snapshot.status, "done");
        assert.equal(snapshot.context.closeReason, reason);
        assert.equal(connectionStateOf(snapshot), "closed");
        assert.equal(mayRunAuthenticated(snapshot), false);
        // The handler, if it ran, is stopped; nothing is forwarded afterwards.
        assert.deepEqual(handlerLog, state === "header" ? [] : ["start:c1", "stop"]);
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
