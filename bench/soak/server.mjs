// The retopy server of `npm run soak`: examples/kv.ts (TypeScript, loaded through tsx) served
// by the built retopy (dist/, so run `npm run build` first) on 127.0.0.1, with the hardening
// limits taken from the environment so the soak can push past them.
//
//   node bench/soak/server.mjs [port=0]   # prints the port
//
// Environment (unset or empty = RetopyServer's own default; the soak always sets them):
//   SOAK_MAX_CONNECTIONS         -> maxConnections       (connections served at once)
//   SOAK_IDLE_TIMEOUT_MS         -> idleTimeout          (milliseconds without traffic)
//   SOAK_OUTPUT_HIGH_WATER_MARK  -> outputHighWaterMark  (bytes of queued replies before reading pauses)
//   SOAK_MAX_OUTPUT_BUFFER       -> maxOutputBuffer      (bytes of queued replies before a disconnect)
//
// A RetopyServer that does not know an option yet ignores it, so this runs on every build.
// Under child_process.fork (bench/soak/server-child.mjs) it reports {type:"options", options,
// known} — `known` lists which option names the built server mentions at all — then
// {type:"listening", port}, and answers the IPC message "memory" with process.memoryUsage()
// after a forced GC (--expose-gc).
import { readFileSync } from "node:fs";
import { reportToBench } from "../child-ipc.mjs";
import { register } from "tsx/esm/api";

const OPTIONS = {
  maxConnections: "SOAK_MAX_CONNECTIONS",
  idleTimeout: "SOAK_IDLE_TIMEOUT_MS",
  outputHighWaterMark: "SOAK_OUTPUT_HIGH_WATER_MARK",
  maxOutputBuffer: "SOAK_MAX_OUTPUT_BUFFER",
};

const options = {};
for (const [option, variable] of Object.entries(OPTIONS)) {
  const raw = process.env[variable];
  if (raw === undefined || raw === "") continue;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    process.stderr.write(`soak/server: ${variable}=${raw} is not a non-negative number\n`);
    process.exit(2);
  }
  options[option] = value;
}

// Which options this build has heard of: a hint for the report, not a guarantee they work.
const serverSource = readFileSync(new URL("../../dist/src/server.js", import.meta.url), "utf8");
const known = Object.keys(OPTIONS).filter((option) => serverSource.includes(option));

register(); // examples/ is TypeScript and not part of dist/
const { RetopyServer } = await import("../../dist/src/index.js");
// kv.ts imports "retopy", which resolves to the same dist/src/index.js as above.
const { default: app } = await import("../../examples/kv.ts");

const server = new RetopyServer(app, { logger: false, ...options });
const { port } = await server.listen({ port: Number(process.argv[2] ?? 0), host: "127.0.0.1" });
if (process.send) process.send({ type: "options", options, known });
reportToBench(port);
