// The retopy server of `npm run bench`: examples/kv.ts (TypeScript, loaded through tsx)
// served by the built retopy (dist/, so run `npm run build` first) on 127.0.0.1.
//
//   node bench/kv-server.mjs [port=0]   # prints the port
//
// Under child_process.fork (bench/run.mjs) it also reports {type:"listening", port} and
// answers the IPC message "memory" with process.memoryUsage() after a forced GC
// (start it with --expose-gc for that).
import { reportToBench } from "./child-ipc.mjs";
import { register } from "tsx/esm/api";

register(); // examples/ is TypeScript and not part of dist/
// BENCH_KV_BALLAST_MB=N keeps about N MB of extra live heap: V8 starts incremental marking
// early on a heap of 8-12 MB that churns large Buffers, and this shows what the 100 KB SET
// costs on a heap past that range (bench/results.md, "100 KB values").
const ballastMb = Number(process.env.BENCH_KV_BALLAST_MB ?? 0);
if (ballastMb > 0) globalThis.benchBallast = Array.from({ length: ballastMb * 7_500 }, (_, i) => ({ i, s: `b${i}`, a: [i] }));
const { RetopyServer, handleProcessFaults } = await import("../dist/src/index.js");
// kv.ts imports "retopy", which resolves to the same dist/src/index.js as above.
const { default: app } = await import("../examples/kv.ts");

// The memory section holds 10,000 idle connections: the default maxConnections (10,000) would refuse the last.
// BENCH_KV_INSPECT=1 (the bench's retopy-inspect): live inspection on, its bridge on 127.0.0.1, no viewer.
const inspect = process.env.BENCH_KV_INSPECT === "1" ? { port: 0 } : undefined;
// BENCH_KV_METRICS=1 (the bench's retopy-metrics): Prometheus metrics on, /metrics on a free port of 127.0.0.1.
const metrics = process.env.BENCH_KV_METRICS === "1" ? { port: 0 } : undefined;
const server = new RetopyServer(app, { logger: false, maxConnections: 20_000, inspect, metrics });
const { port } = await server.listen({ port: Number(process.argv[2] ?? 0), host: "127.0.0.1" });
// As `retopy serve` runs it: the fault policy tracks each command's context, which has a cost
// (a per-command name lowercased with a RegExp once cost the CLI 25% of its pipelined SETs).
// BENCH_KV_FAULTS=0 serves without it, as a program that embeds retopy does by default.
if (process.env.BENCH_KV_FAULTS !== "0") handleProcessFaults(server);
reportToBench(port);
