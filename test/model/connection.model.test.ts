/**
 * Model-based tests of the connection statechart (`machines/connection.machine.ts`) over
 * real sockets. `xstate/graph` walks the real machine and yields paths that together take
 * every (state, client action) edge; each path is then driven against a live server on
 * 127.0.0.1 by a real client (`client-actions.ts` says what the client does for each
 * event). At every step the server must be where the model is: its connection actor took
 * the model's transitions, `server.connections` reports the model's state, protocol, user
 * and header, and the state allows and refuses what it should (commands, `@authenticated`
 * commands, nothing before the handshake, a closed socket with the logged reason).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createMachine } from "xstate";
import { type ConnectionMachine, connectionMachine } from "../../machines/connection.machine.js";
import { type HandshakeMode } from "../../src/protocol/wire.js";
import { CLIENT_ACTIONS } from "./client-actions.js";
import {
  type ClientAction,
  coverageOf,
  generatePaths,
  machineTransitions,
  type ModelPath,
  plannedCoverage,
  type ServerProfile,
  statesOf,
} from "./connection-model.js";
import { LINGER_TIMEOUT_MS, MAX_HEADER_SIZE, PROFILE_OPTIONS, Session, type LiveServer, startLiveServer, stopLiveServer } from "./live-harness.js";

const MODES: readonly HandshakeMode[] = ["auto", "line", "none"];

function pathsFor(actions: readonly ClientAction<Session>[], machine?: ConnectionMachine): ModelPath<Session>[] {
  return MODES.flatMap((mode) =>
    generatePaths(actions, mode, {
      headerTimeout: PROFILE_OPTIONS[mode].headerTimeout,
      maxHeaderSize: MAX_HEADER_SIZE,
      lingerTimeout: LINGER_TIMEOUT_MS,
      machine,
    }),
  );
}

const PATHS = pathsFor(CLIENT_ACTIONS);

describe("connection model: path generation (no sockets)", () => {
  it("the generated paths take every transition and enter every state of the connection machine", (t) => {
    const coverage = plannedCoverage(PATHS);
    t.diagnostic(`${PATHS.length} paths, ${PATHS.reduce((n, p) => n + p.steps.length - 1, 0)} steps: ${coverage.summary}`);
    assert.deepEqual(coverage.missingTransitions, [], `transitions no client action reaches: ${coverage.missingTransitions.join("; ")}`);
    assert.deepEqual(coverage.missingStates, [], `states no client action reaches: ${coverage.missingStates.join(", ")}`);
  });

  it("every client action is used by some path (its event is one the machine takes where it is offered)", () => {
    const used = new Set(PATHS.flatMap((path) => path.steps.map((step) => step.action)));
    const unused = CLIENT_ACTIONS.filter((action) => !used.has(action)).map((action) => `${action.label} (${JSON.stringify(action.event)})`);
    assert.deepEqual(unused, [], `client actions no path uses: ${unused.join("; ")}`);
  });

  it("a transition added to the machine without a client action fails coverage, by name", () => {
    // The real machine with one more transition, as a change to machines/ would add it.
    const config = connectionMachine.config;
    const open = config.states!.open!;
    const auth = open.states!.auth!;
    const ready = auth.states!.ready!;
    const kick = { ...ready.on, KICK: { target: "#connection.closed" } } as typeof ready.on;
    const authWithKick = { ...auth, states: { ...auth.states, ready: { ...ready, on: kick } } };
    const extended = { ...config, states: { ...config.states, open: { ...open, states: { ...open.states, auth: authWithKick } } } };
    const withKick = createMachine(extended, connectionMachine.implementations) as unknown as ConnectionMachine;
    const coverage = plannedCoverage(pathsFor(CLIENT_ACTIONS, withKick), withKick);
    const known = machineTransitions().length;
    assert.deepEqual(coverage.missingTransitions, ["open.auth.ready → closed on KICK"]);
    assert.match(coverage.summary, new RegExp(`^covered ${known}/${known + 1} transitions`));
  });
});

describe("connection model: a live server follows every path", () => {
  const servers = new Map<ServerProfile, LiveServer>();
  /** How many checked steps saw the live server take each transition (by key); the states it was seen in. */
  const takenLive = new Map<string, number>();
  const enteredLive = new Set<string>();

  before(async () => {
    for (const profile of ["auto", "line", "none", "idle"] as const) servers.set(profile, await startLiveServer(profile));
  });
  after(async () => {
    await Promise.all([...servers.values()].map(stopLiveServer));
  });

  for (const path of PATHS) {
    it(path.name, path.knownBug ? { todo: path.knownBug } : {}, async () => {
      // A path that shuts its server down gets a server of its own.
      const live = path.ownServer ? await startLiveServer(path.profile) : servers.get(path.profile)!;
      const session = await Session.open(live);
      try {
        for (const [index, step] of path.steps.entries()) {
          // With handshake `none` the server leaves `header` as it accepts: nothing to see there.
          if (index === 0 && path.mode === "none") continue;
          const where = `step ${index} (${step.action?.label ?? "connected"})`;
          session.model = step.before;
          await step.action?.drive(session);
          // The server's transitions, in order, must be the model's: this step's come next in
          // its record. It may already be further on its own (a quit's reply goes out without
          // waiting on the client): those are the next steps' to account for.
          await session.settle(step.transitions.length);
          const taken = session.unconsumed().slice(0, step.transitions.length);
          assert.deepEqual(taken, step.transitions, `${where}: the server's connection actor took the model's transitions`);
          session.consumed += taken.length;
          await session.check(step.after, step.action?.label === "closes its socket");
          for (const key of taken) takenLive.set(key, (takenLive.get(key) ?? 0) + 1);
          for (const id of statesOf(step.after)) enteredLive.add(id);
        }
        const last = path.steps.at(-1)!.after;
        if (!last.matches({ open: { flow: "closing" } })) {
          assert.deepEqual(session.unconsumed(), [], "the server took no transition the model does not take");
        }
      } finally {
        await session.close();
        if (path.ownServer) await stopLiveServer(live);
      }
    });
  }

  it("the live runs covered every transition and every state of the connection machine", (t) => {
    const coverage = coverageOf(new Set(takenLive.keys()), enteredLive);
    t.diagnostic(`live: ${coverage.summary} over ${PATHS.length} paths`);
    for (const transition of machineTransitions()) t.diagnostic(`  ${transition.label}: ${takenLive.get(transition.key) ?? 0} step(s)`);
    assert.deepEqual(coverage.missingTransitions, [], `transitions no live run took: ${coverage.missingTransitions.join("; ")}`);
    assert.deepEqual(coverage.missingStates, [], `states no live run entered: ${coverage.missingStates.join(", ")}`);
  });
});
