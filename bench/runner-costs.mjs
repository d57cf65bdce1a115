// What a command costs in the CommandRunner alone, in CPU time (process.cpuUsage, not wall
// time, so other processes on the machine matter less): batches of 16 SETs of examples/kv.ts
// run by a real CommandRunner whose output is dropped (no socket). Compares builds:
//
//   npm run build && node bench/runner-costs.mjs [distDir=dist] [hooks]
//
// `hooks` adds a no-op preCommand and onResponse hook (the cost of hooks when used).
import { createActor } from "xstate";
import { register } from "tsx/esm/api";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { pino } from "pino";

register();
const dist = pathToFileURL(resolve(process.argv[2] ?? "dist")).href;
const withHooks = process.argv[3] === "hooks";
const { CommandRunner } = await import(`${dist}/src/command-runner.js`);
const { StatsBuffer } = await import(`${dist}/src/stats.js`);
const { PROTOCOLS } = await import(`${dist}/src/protocol/protocols.js`);
const { supervisorMachine } = await import(`${dist}/machines/supervisor.machine.js`);
// examples/kv.ts imports "retopy" (this checkout's dist/): its application serves both runners.
const { default: app } = await import("../examples/kv.ts");
if (withHooks) {
  app.addHook("preCommand", () => {});
  app.addHook("onResponse", () => {});
}
const supervisor = createActor(supervisorMachine, { input: { startedAt: Date.now() } }).start();
const stats = new StatsBuffer(supervisor);
const connection = { id: "c", protocol: "resp2", signal: new AbortController().signal, logger: pino({ level: "silent" }) };
let bytes = 0;
const host = {
  application: app,
  connection,
  server: { stats: () => stats.read(), pubsub: null },
  stats,
  encoder: PROTOCOLS.resp2.encoder,
  isAuthenticated: () => true,
  commandTimeout: 0,
  send: (out) => void (bytes += [out].flat().length),
  closeRequested: false,
  requestClose: () => {},
  outputBlocked: () => null,
  idle: () => {},
  opening: null,
};
const batch = Array.from({ length: 16 }, (_, i) => ["SET", `key:${i}`, "xxx"]);
const BATCHES = 100_000;
const results = [];
for (let run = 0; run < 7; run++) {
  const runner = new CommandRunner(host);
  const start = process.cpuUsage();
  for (let i = 0; i < BATCHES; i++) runner.enqueue(batch);
  const used = process.cpuUsage(start);
  results.push(((used.user + used.system) * 1000) / (BATCHES * batch.length));
}
results.sort((a, b) => a - b);
console.log(`${process.argv[2] ?? "dist"}${withHooks ? " +hooks" : ""}: ${results[3].toFixed(1)} ns CPU per SET (median of 7 runs; min ${results[0].toFixed(1)})`);
stats.flush();
