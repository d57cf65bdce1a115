// What one connection actor costs on its own, without a socket: creates 10,000 actors of the
// built connection machine (dist/, run `npm run build` first) as src/connection.ts does (the
// supervisor as parent, started, then HEADER_IMPLICIT: an open connection's state), and
// prints heapUsed per actor after forced GCs. As in the server, each actor's input and
// observer is an object that exists anyway (there the Connection; here a stand-in made
// before the first reading), so only what the actor itself adds is counted.
//
//   node --expose-gc bench/actor-heap.mjs [--no-observer] [--snapshot] [--count N]
//     --no-observer  without the subscription the connection makes
//     --snapshot     also a heap snapshot diff (bench/heap-snapshot.mjs) of 1,000 actors
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { createActor } from "xstate";
import { connectionMachine } from "../dist/machines/connection.machine.js";
import { supervisorMachine } from "../dist/machines/supervisor.machine.js";
import { idsOf, printTables, readSnapshot, totalsByKey, writeSnapshot } from "./heap-snapshot.mjs";

if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
const args = process.argv.slice(2);
const observe = !args.includes("--no-observer");
const snapshots = args.includes("--snapshot");
const countAt = args.indexOf("--count");
const count = countAt === -1 ? (snapshots ? 1000 : 10_000) : Number(args[countAt + 1]);

const supervisor = createActor(supervisorMachine, { id: "supervisor", input: { startedAt: Date.now() } });
supervisor.start();
/** Stands in for a Connection: the actor's input (ConnectionInput) and its observer. */
class Owner {
  constructor(n) {
    this.id = `conn-${String(n).padStart(16, "0")}`;
  }
  get handshake() { return "auto"; }
  get maxHeaderSize() { return 4096; }
  get headerTimeout() { return 10_000; }
  get lingerTimeout() { return 2000; }
  get supervisor() { return supervisor; }
  next() {}
  error() {}
}
const owners = Array.from({ length: count }, (_, n) => new Owner(n));
const actors = new Array(count).fill(null);

function connectionActor(n, owner = new Owner(n)) {
  const actor = createActor(connectionMachine, { id: "connection", parent: supervisor, input: owner });
  if (observe) actor.subscribe(owner);
  actor.start();
  actor.send({ type: "HEADER_IMPLICIT" });
  return actor;
}

// Warm up (and compile) the paths first, then let these go.
for (let n = 0; n < 200; n++) connectionActor(n).send({ type: "CLOSE", reason: "client_closed" });
const settled = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};
const dir = snapshots ? mkdtempSync(path.join(os.tmpdir(), "actor-heap-")) : null;
const before = settled();
const beforeFile = snapshots ? writeSnapshot(dir, "before") : null;
for (let n = 0; n < count; n++) actors[n] = connectionActor(n, owners[n]);
const after = settled();
const afterFile = snapshots ? writeSnapshot(dir, "after") : null;
console.log(`${count} connection actors${observe ? "" : " (no observer)"}: ${((after - before) / count).toFixed(0)} B heapUsed per actor`);
if (snapshots) {
  let first = readSnapshot(beforeFile);
  const totals = totalsByKey(first);
  const ids = idsOf(first);
  first = null;
  printTables(totals, ids, readSnapshot(afterFile), count, 60, "actor");
  rmSync(dir, { recursive: true, force: true });
}
for (const actor of actors) actor.send({ type: "CLOSE", reason: "client_closed" });
supervisor.stop();
