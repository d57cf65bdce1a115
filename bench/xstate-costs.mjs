// `npm run bench:xstate`: what XState itself costs retopy, measured in isolation (no sockets),
// with the same machines and actor options the server uses. Prints a Markdown table.
//
//   npm run build && node --expose-gc bench/xstate-costs.mjs
//
// Rows: a COMMANDS event to the server's handler actor (plain logic, invoked by the
// supervisor, as in RetopyServer), the same batch handed to the queue with no actor (the
// floor), a connection actor created and started, one state change of a started connection
// actor (LOGIN then LOGOUT, per event), and the heap one started connection actor holds.
// Each timing is the median of 5 runs of a bounded loop.
import { createActor } from "xstate";
import { supervisorMachine } from "../dist/machines/supervisor.machine.js";
import { connectionMachine } from "../dist/machines/connection.machine.js";
import { createHandlerActor } from "../dist/src/handler-actor.js";
import { HANDLER_SYSTEM_ID } from "../dist/machines/handler-event.js";
import pino from "pino";

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(label, n, fn) {
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    fn(n);
    runs.push(Number(process.hrtime.bigint() - t0) / n);
  }
  return { label, ns: median(runs) };
}

const logger = pino({ enabled: false });
const supervisor = createActor(supervisorMachine.provide({ actors: { handler: createHandlerActor(logger) } }), {
  id: "supervisor",
  input: { startedAt: Date.now() },
});
supervisor.start();
const handler = supervisor.system.get(HANDLER_SYSTEM_ID);
let ran = 0;
const queue = { enqueue: (items) => void (ran += items.length) };
const items = [["get", "key"]];
const event = { type: "COMMANDS", connectionId: "c1", queue, items };

const input = (id) => ({ id, handshake: "none", maxHeaderSize: 8192, headerTimeout: 10_000, lingerTimeout: 2000, supervisor });
/** A connection actor as the server makes one, observed and opened (a RESP client's first read). */
function openConnectionActor(id) {
  const actor = createActor(connectionMachine, { id: "connection", parent: supervisor, input: input(id) });
  actor.subscribe({ next() {} });
  actor.start();
  actor.send({ type: "HEADER_IMPLICIT" });
  return actor;
}
const rows = [];
rows.push(time("queue.enqueue(batch), no actor (the floor)", 1_000_000, (n) => { for (let i = 0; i < n; i++) queue.enqueue(items); }));
rows.push(time("handler actor: send one COMMANDS event", 1_000_000, (n) => { for (let i = 0; i < n; i++) handler.send(event); }));
let made = [];
rows.push(time("connection actor: createActor + start + HEADER_IMPLICIT + CLOSE", 10_000, (n) => {
  for (let i = 0; i < n; i++) made.push(openConnectionActor(`c${i}`));
  for (const a of made) a.send({ type: "CLOSE", reason: "client_closed" });
  made = [];
}));
const one = openConnectionActor("one");
rows.push(time("connection actor: one state change (LOGIN or LOGOUT)", 200_000, (n) => {
  for (let i = 0; i < n; i += 2) { one.send({ type: "LOGIN", user: "u" }); one.send({ type: "LOGOUT" }); }
}));

let heap = "n/a (run with --expose-gc)";
if (globalThis.gc) {
  const count = 10_000;
  gc(); gc();
  const before = process.memoryUsage().heapUsed;
  const kept = [];
  for (let i = 0; i < count; i++) kept.push(openConnectionActor(`h${i}`));
  gc(); gc();
  heap = `${((process.memoryUsage().heapUsed - before) / count / 1024).toFixed(2)} KB`;
  for (const a of kept) a.send({ type: "CLOSE", reason: "client_closed" });
}
if (ran === 0) throw new Error("the handler actor ran no batch");

console.log("| what | cost |\n|---|--:|");
for (const r of rows) console.log(`| ${r.label} | ${r.ns >= 1000 ? `${(r.ns / 1000).toFixed(2)} µs` : `${r.ns.toFixed(0)} ns`} |`);
console.log(`| heap of one started connection actor (10,000 held) | ${heap} |`);
supervisor.stop();
