/**
 * The supervisor statechart on its own: connection counts reported by real connection
 * actors, batched command counts, and the running → draining → stopped shutdown.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AnyActorRef, createActor } from "xstate";
import { connectionMachine } from "../machines/connection.machine.js";
import { supervisorMachine } from "../machines/supervisor.machine.js";

const started: AnyActorRef[] = [];
afterEach(() => {
  for (const actor of started.splice(0)) actor.stop();
});

function startSupervisor(startedAt = 1_700_000_000_000) {
  const supervisor = createActor(supervisorMachine, { input: { startedAt } });
  supervisor.start();
  started.push(supervisor);
  return supervisor;
}

/** A real connection actor (placeholder handler) reporting to `supervisor`. */
function openConnection(supervisor: ReturnType<typeof startSupervisor>, id: string) {
  const connection = createActor(connectionMachine, {
    input: { id, handshake: "auto", maxHeaderSize: 255, headerTimeout: 0, lingerTimeout: 60_000, supervisor },
  });
  connection.start();
  started.push(connection);
  return connection;
}

describe("supervisor machine", () => {
  it("starts running with zeroed counters and the given start time", () => {
    const supervisor = startSupervisor(1234);
    const snapshot = supervisor.getSnapshot();
    assert.equal(snapshot.value, "running");
    assert.deepEqual(snapshot.context, {
      startedAt: 1234,
      connectionsCurrent: 0,
      connectionsTotal: 0,
      connectionsRejected: 0,
      commandsTotal: 0,
      errorsTotal: 0,
      commandCounts: {},
    });
  });

  it("counts the openings and closings that connection actors report", () => {
    const supervisor = startSupervisor();
    const a = openConnection(supervisor, "a");
    const b = openConnection(supervisor, "b");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 2);
    assert.equal(supervisor.getSnapshot().context.connectionsTotal, 2);

    a.send({ type: "HEADER_IMPLICIT" });
    a.send({ type: "CLOSE", reason: "quit" });
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 1);
    assert.equal(supervisor.getSnapshot().context.connectionsTotal, 2);

    const c = openConnection(supervisor, "c");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 2);
    assert.equal(supervisor.getSnapshot().context.connectionsTotal, 3);

    b.send({ type: "HEADER", fields: {}, size: 10_000 }); // header_too_large: lingers, still open
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 2);
    b.send({ type: "CLOSE", reason: "client_closed" });
    c.send({ type: "CLOSE", reason: "client_closed" });
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 0);
    assert.equal(supervisor.getSnapshot().context.connectionsTotal, 3);
  });

  it("never lets connectionsCurrent go below zero", () => {
    const supervisor = startSupervisor();
    supervisor.send({ type: "CONNECTION_CLOSED", id: "ghost", reason: "client_closed" });
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 0);
  });

  it("COMMANDS_COUNTED adds per-command counts and totals", () => {
    const supervisor = startSupervisor();
    supervisor.send({ type: "COMMANDS_COUNTED", counts: { increment: 3, get: 1 }, total: 4, errors: 1 });
    supervisor.send({ type: "COMMANDS_COUNTED", counts: { increment: 2, stats: 1 }, total: 3, errors: 2 });
    const { context } = supervisor.getSnapshot();
    assert.deepEqual({ ...context.commandCounts }, { increment: 5, get: 1, stats: 1 });
    assert.equal(context.commandsTotal, 7);
    assert.equal(context.errorsTotal, 3);
  });

  it("a counted batch does not mutate the previous snapshot's counts", () => {
    const supervisor = startSupervisor();
    supervisor.send({ type: "COMMANDS_COUNTED", counts: { a: 1 }, total: 1, errors: 0 });
    const before = supervisor.getSnapshot().context.commandCounts;
    supervisor.send({ type: "COMMANDS_COUNTED", counts: { a: 1 }, total: 1, errors: 0 });
    assert.deepEqual({ ...before }, { a: 1 });
    assert.deepEqual({ ...supervisor.getSnapshot().context.commandCounts }, { a: 2 });
  });

  it("SHUTDOWN drains: stopped only once the last connection has closed", () => {
    const supervisor = startSupervisor();
    const a = openConnection(supervisor, "a");
    const b = openConnection(supervisor, "b");
    supervisor.send({ type: "SHUTDOWN" });
    assert.equal(supervisor.getSnapshot().value, "draining");
    assert.equal(supervisor.getSnapshot().status, "active");

    // Counting goes on while draining.
    supervisor.send({ type: "COMMANDS_COUNTED", counts: { ping: 1 }, total: 1, errors: 0 });
    assert.equal(supervisor.getSnapshot().context.commandsTotal, 1);

    a.send({ type: "CLOSE", reason: "server_closing" });
    assert.equal(supervisor.getSnapshot().value, "draining");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 1);

    b.send({ type: "CLOSE", reason: "server_closing" });
    assert.equal(supervisor.getSnapshot().value, "stopped");
    assert.equal(supervisor.getSnapshot().status, "done");
    assert.equal(supervisor.getSnapshot().context.connectionsCurrent, 0);
    assert.equal(supervisor.getSnapshot().context.connectionsTotal, 2);
  });

  it("SHUTDOWN with no connections stops at once", () => {
    const supervisor = startSupervisor();
    supervisor.send({ type: "SHUTDOWN" });
    assert.equal(supervisor.getSnapshot().value, "stopped");
    assert.equal(supervisor.getSnapshot().status, "done");
  });

  it("a second SHUTDOWN while draining changes nothing", () => {
    const supervisor = startSupervisor();
    const a = openConnection(supervisor, "a");
    supervisor.send({ type: "SHUTDOWN" });
    supervisor.send({ type: "SHUTDOWN" });
    assert.equal(supervisor.getSnapshot().value, "draining");
    a.send({ type: "CLOSE", reason: "server_closing" });
    assert.equal(supervisor.getSnapshot().value, "stopped");
  });
});
