// `npm run soak`: many clients hammer one retopy server (examples/kv.ts, in a child process
// on 127.0.0.1) for a bounded time with valid traffic, garbage, slow writers, abrupt
// disconnects, connection bursts past the server's limit and a client that never reads.
// Every valid reply is checked against an exact model; the server's memory is sampled.
//
//   npm run build && node bench/soak.mjs      # settings: see bench/soak/config.mjs
//
// Each client keeps its own key space (`soak:<client>:<generation>:k<n>`), so its model of the
// store is exact: a reply either matches byte for byte or is a wrong reply. A connection the
// client cuts mid-pipeline makes that generation's keys unknown; the client moves on to a new
// generation, and the old keys are deleted at the end. Mixed into the clients' sessions:
//   resp / text        pipelined set/get/incr/del/ping (and arity/unknown-command errors),
//                      each batch written in a few random pieces; text sessions may send a header
//   slow               one or two commands trickled a byte at a time with pauses
//   abort              half a pipeline or half a command, then end, destroy or RST
//   garbage-text       lines of random non-letter bytes: one error reply per non-blank line
//   malformed-resp     bad lengths, huge *N, missing CRLF...: `-ERR Protocol error: ...`, close
//   garbage-resp       random bytes after a RESP PING: only error replies, close on a fatal one
//   long-line          over-long inline lines (in the handshake, in text, in RESP): error, close
//   huge-multibulk     `*1048576` (within maxArgs) with a few arguments, then a close
// Beside the clients: a burst every SOAK_BURST_EVERY seconds opens maxConnections +
// SOAK_BURST_EXTRA connections at once (the surplus must get `-ERR max number of clients
// reached` and a close); a never-reading client pipelines SET+GET, or GETs alone, until the
// server stops reading from it or disconnects it (or SOAK_FLOOD_MB of requests went in), then
// reads: every reply owed must arrive unless the server cut it off; an idle client waits for
// the idle timeout.
//
// The parts, in bench/soak/:
//   config.mjs            the SOAK_* settings (documented there) and shared constants
//   clock.mjs             start, deadline, burst window, progress lines on stderr
//   random.mjs            seeded randomness and alphabets
//   tallies.mjs           the one `tally` of everything seen, and the failure records
//   format.mjs            how bytes, sizes and counts are shown
//   server.mjs            the server child itself (examples/kv.ts on the built retopy)
//   server-child.mjs      starting and stopping it; RSS, fd, CPU and heap probes
//   wire.mjs              a client socket with an inbox and reply frame ends
//   model.mjs             request encoders, expected replies, ClientState (the exact model)
//   exchange.mjs          writing a batch and checking every reply
//   sessions.mjs          valid, slow and abort sessions; the client loop
//   garbage-sessions.mjs  garbage, malformed RESP, long lines, huge multibulk
//   beside.mjs            bursts, the never-reading client, the idle probe, RSS samples
//   final-checks.mjs      cleanup of every key, the server's stats, the final PING
//   report.mjs            the Markdown report
//
// Exit code 1 if the server crashed, a valid command got a wrong reply (or none on an open
// connection, or its connection was closed by the server below the connection limit), a
// garbage session got a non-error reply, or the final PING failed; 2 for a bad setting.
// Output: Markdown on stdout and in bench/soak-results.md; progress on stderr.
import { writeFileSync } from "node:fs";
import { BURST_EVERY_MS, BURST_EXTRA, CLIENTS, FLOOD_BYTES, IDLE_TIMEOUT_MS, RESULTS, SAMPLE_MS, SECONDS, SEED, SETTLE_MS, WIND_DOWN_MS, fail } from "./soak/config.mjs";
import { clock, progress, sleep } from "./soak/clock.mjs";
import { burst, flood, idleProbe, periodic, samples, takeSample } from "./soak/beside.mjs";
import { cleanup, finalPing, serverStats } from "./soak/final-checks.mjs";
import { count, mb } from "./soak/format.mjs";
import { ClientState } from "./soak/model.mjs";
import { report } from "./soak/report.mjs";
import { server, serverCpuTicks, serverMemory, serverRss, startServer, stopServer } from "./soak/server-child.mjs";
import { clientLoop } from "./soak/sessions.mjs";
import { failures, recordFailure, tally } from "./soak/tallies.mjs";

/** Why the run fails, if it does: every one of these is server misbehaviour (or a stuck soak). */
function failureReasons(alive) {
  const reasons = [];
  if (server.exit) reasons.push(`the server exited (code ${server.exit.code}, signal ${server.exit.signal}) at ${server.exit.at} s`);
  if (tally.wrongReplies) reasons.push(`${tally.wrongReplies} wrong replies`);
  if (tally.missingReplies) reasons.push(`${tally.missingReplies} commands without a reply on an open connection`);
  if (tally.closedEarly) reasons.push(`${tally.closedEarly} commands lost to server closes below the limit`);
  if (tally.refusedOutsideBurst) reasons.push(`${tally.refusedOutsideBurst} refusals below the connection limit`);
  if (!alive) reasons.push("the final PING failed");
  if (failures.some((f) => f.what === "wind-down")) reasons.push("sessions did not finish");
  return reasons;
}

/** Starts the server, runs everything for SOAK_SECONDS, checks the end state, reports. */
async function main() {
  progress(`seed ${SEED}, ${CLIENTS} clients for ${SECONDS} s`);
  try {
    await startServer();
  } catch (error) {
    fail(error.message);
  }
  progress(`server pid ${server.pid} on port ${server.port}, options ${JSON.stringify(server.options)}, named in this build: ${server.known.join(", ") || "none"}`);
  const memoryStart = await serverMemory();
  const cpuStart = serverCpuTicks();
  const soakStart = Date.now();
  clock.deadline = soakStart + SECONDS * 1000;
  takeSample("start");
  const sampler = setInterval(() => {
    takeSample();
    const last = samples.at(-1);
    progress(`RSS ${mb(last.rss)}, fds ${last.fds}, ${count(tally.repliesCorrect)} replies checked, ${tally.wrongReplies + tally.missingReplies + tally.closedEarly} failures`);
  }, SAMPLE_MS);

  const clients = Array.from({ length: CLIENTS }, (_, i) => new ClientState(i));
  const work = [
    ...clients.map((client) => clientLoop(client)),
    BURST_EXTRA > 0 ? periodic(Math.min(10_000, BURST_EVERY_MS), BURST_EVERY_MS, 3000, burst) : null,
    FLOOD_BYTES > 0 ? periodic(5000, 12_000, 8000, flood) : null,
    IDLE_TIMEOUT_MS > 0 ? periodic(2000, IDLE_TIMEOUT_MS + 15_000, IDLE_TIMEOUT_MS + 2000, idleProbe) : null,
  ].filter(Boolean);
  const windDown = sleep(SECONDS * 1000 + WIND_DOWN_MS).then(() => "late");
  if ((await Promise.race([Promise.all(work), windDown])) === "late") {
    recordFailure("wind-down", { note: `sessions still running ${WIND_DOWN_MS / 1000} s after the deadline` });
  }
  clearInterval(sampler);
  const duration = (Date.now() - soakStart) / 1000;
  progress(`clients done after ${duration.toFixed(1)} s; cleaning up`);

  const cleanupResult = server.gone ? { ok: false, note: "server gone" } : await cleanup(clients);
  await sleep(2000); // let the server release the last connections
  takeSample("end");
  const rssHighWater = serverRss("VmHWM");
  const stats = server.gone ? null : await serverStats();
  const memoryEnd = await serverMemory();
  const cpuEnd = serverCpuTicks();
  if (SETTLE_MS > 0 && !server.gone) {
    progress(`${SETTLE_MS / 1000} s idle before the last RSS reading`);
    await sleep(SETTLE_MS);
    takeSample(`after ${SETTLE_MS / 1000} s idle`);
  }
  const alive = await finalPing();
  const cpuSeconds = cpuStart !== null && cpuEnd !== null ? (cpuEnd - cpuStart) / 100 : null;

  const reasons = failureReasons(alive);
  const passed = reasons.length === 0;

  const markdown = report({ rssHighWater, duration, cpuSeconds, memoryStart, memoryEnd, stats, alive, cleanupResult, passed, reasons });
  await stopServer();
  process.stdout.write(`${markdown}\n`);
  writeFileSync(RESULTS, `${markdown}\n`);
  progress(`${passed ? "PASS" : "FAIL"}; written to bench/soak-results.md`);
  process.exit(passed ? 0 : 1);
}

await main();
