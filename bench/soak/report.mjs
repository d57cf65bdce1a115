// The Markdown report: the summary table, then one table per kind of thing the soak did, and
// the first failures. Reads only the shared records (tally, failures, samples, server) and
// the end-of-run figures main passes in.
import os from "node:os";
import {
  ALL_SESSIONS,
  BURST_EVERY_MS,
  BURST_EXTRA,
  CLIENTS,
  FLOOD_BYTES,
  IDLE_TIMEOUT_MS,
  MAX_CONNECTIONS,
  MAX_OUTPUT_BUFFER,
  OUTPUT_HIGH_WATER_MARK,
  REPLY_TIMEOUT_MS,
  SECONDS,
  SEED,
  SESSIONS,
  SETTLE_MS,
} from "./config.mjs";
import { samples } from "./beside.mjs";
import { count, mb } from "./format.mjs";
import { server } from "./server-child.mjs";
import { MAX_FAILURE_SAMPLES, failures, tally } from "./tallies.mjs";

/** The whole report as Markdown; the caller prints it and writes bench/soak-results.md. */
export function report({ rssHighWater, duration, cpuSeconds, memoryStart, memoryEnd, stats, alive, cleanupResult, passed, reasons }) {
  const rssValues = samples.map((s) => s.rss).filter((v) => v !== null);
  const closedByServer = [...tally.closedByServer.entries()].sort((a, b) => b[1] - a[1]);
  const lines = [];
  lines.push(`# retopy soak`, "");
  lines.push(
    `Run of ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${os.cpus().length} cores ` +
      `(${os.cpus()[0]?.model.trim() ?? "unknown CPU"}), ` +
      `Node ${process.version}. Server: examples/kv.ts through bench/soak/server.mjs on 127.0.0.1, options ` +
      `\`${JSON.stringify(server.options)}\` (named in this build: ${server.known.length ? server.known.join(", ") : "none"}).`,
    "",
    `Settings: SOAK_SECONDS=${SECONDS} SOAK_CLIENTS=${CLIENTS} SOAK_SEED=${SEED} ` +
      `SOAK_SESSIONS=${Object.keys(SESSIONS).join(",")} SOAK_BURST_EXTRA=${BURST_EXTRA} ` +
      `SOAK_BURST_EVERY=${BURST_EVERY_MS / 1000} SOAK_FLOOD_MB=${FLOOD_BYTES / 1048576} SOAK_REPLY_TIMEOUT_MS=${REPLY_TIMEOUT_MS}.`,
    "",
  );
  lines.push(`**Result: ${passed ? "PASS" : "FAIL"}**${reasons.length ? ` — ${reasons.join("; ")}` : ""}`, "");
  lines.push("| metric | value |", "|---|--:|");
  const row = (name, value) => lines.push(`| ${name} | ${value} |`);
  row("duration (clients ran / with the wind-down)", `${SECONDS} s / ${duration.toFixed(1)} s`);
  row("valid commands sent (replies awaited)", count(tally.commandsSent));
  row("valid commands on connections cut by the client (unchecked)", count(tally.commandsAborted));
  row("replies checked correct", count(tally.repliesCorrect));
  row("wrong replies (must be 0)", count(tally.wrongReplies));
  row("no reply on an open connection (must be 0)", count(tally.missingReplies));
  row("no reply: connection closed by the server below its limit (must be 0)", count(tally.closedEarly));
  row("connections opened", count(tally.opened));
  row(
    "connections refused (max clients): seen by the clients / counted by the server",
    `${count(tally.refused)} / ${stats?.connections_rejected === undefined ? "n/a" : count(stats.connections_rejected)}${tally.refusedOutsideBurst ? ` (**${tally.refusedOutsideBurst} outside a burst**)` : ""}`,
  );
  row("connections closed by the server", count(closedByServer.reduce((a, [, n]) => a + n, 0)));
  for (const [why, n] of closedByServer) row(`&nbsp;&nbsp;${why}`, count(n));
  row("connections closed by the client", count(tally.closedByClient));
  row("connect errors", count(tally.connectErrors));
  const endSample = samples.find((s) => s.label === "end");
  const settled = SETTLE_MS > 0 ? samples.find((s) => s.label.startsWith("after")) : null;
  row(
    `server RSS start / peak (VmHWM) / end${settled ? ` / after ${SETTLE_MS / 1000} s idle` : ""}`,
    `${mb(rssValues[0])} / ${mb(rssHighWater ?? Math.max(...rssValues))} / ${mb(endSample?.rss)}${settled ? ` / ${mb(settled.rss)}` : ""}`,
  );
  row("server heap used after GC, start / end", `${mb(memoryStart?.heapUsed)} / ${mb(memoryEnd?.heapUsed)}`);
  if (memoryStart && memoryEnd && stats?.connections_total) {
    row("&nbsp;&nbsp;heap growth per connection the server served (warm-up included)", `${Math.round((memoryEnd.heapUsed - memoryStart.heapUsed) / stats.connections_total)} B`);
  }
  row("server open fds start / end", `${samples[0]?.fds ?? "n/a"} / ${endSample?.fds ?? "n/a"}`);
  row("server CPU time", cpuSeconds === null ? "n/a" : `${cpuSeconds.toFixed(1)} s`);
  row("server `stats` at the end", stats ? `connections_current ${stats.connections_current} (this one), connections_total ${count(stats.connections_total ?? 0)}, commands_total ${count(stats.commands_total ?? 0)}` : "n/a");
  row("final cleanup", cleanupResult.note);
  row("server alive at the end (fresh PING → PONG)", alive ? "yes" : `**no**${server.exit ? ` (exited at ${server.exit.at} s, code ${server.exit.code}, signal ${server.exit.signal})` : ""}`);
  lines.push("");

  lines.push("### Error replies by kind", "", "| reply | count |", "|---|--:|");
  for (const [kind, n] of [...tally.errorKinds.entries()].sort((a, b) => b[1] - a[1])) lines.push(`| \`-${kind}\` | ${count(n)} |`);
  lines.push("");

  lines.push("### Sessions", "", "| scenario | sessions | as expected | notes |", "|---|--:|--:|---|");
  for (const name of Object.keys(ALL_SESSIONS)) {
    const entry = tally.scenarios.get(name) ?? { runs: 0, ok: 0, notes: new Map() };
    const notes = [...entry.notes.entries()].map(([note, n]) => `${note}: ${n}`).join(", ");
    lines.push(`| ${name} | ${count(entry.runs)} | ${count(entry.ok)} | ${notes} |`);
  }
  lines.push("");

  if (tally.bursts.length) {
    lines.push(`### Connection bursts (maxConnections ${MAX_CONNECTIONS}, ${CLIENTS} clients running beside)`, "");
    lines.push("| burst | at (s) | connections | accepted | refused | reset at accept | connect errors | other |", "|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (const b of tally.bursts) lines.push(`| ${b.number} | ${b.at} | ${b.size} | ${b.accepted} | ${b.refused} | ${b.reset} | ${b.connectErrors} | ${b.other} |`);
    lines.push("");
  }
  if (tally.floods.length) {
    lines.push(`### Never-reading client (outputHighWaterMark ${OUTPUT_HIGH_WATER_MARK}, maxOutputBuffer ${MAX_OUTPUT_BUFFER})`, "");
    lines.push("| cycle | at (s) | pipeline | requests sent | replies owed | outcome | then reading | received | server RSS before / peak / after |", "|--:|--:|---|--:|--:|---|---|--:|--:|");
    for (const f of tally.floods) {
      lines.push(`| ${f.number} | ${f.at} | ${f.variant} | ${mb(f.sentBytes)} | ${mb(f.repliesOwed)} | ${f.outcome} | ${f.after} | ${mb(f.received)} | ${mb(f.rssBefore)} / ${mb(f.rssPeak)} / ${mb(f.rssAfter)} |`);
    }
    lines.push("");
  }
  if (tally.idle.length) {
    lines.push(`### Idle client (idleTimeout ${IDLE_TIMEOUT_MS} ms)`, "", "| probe | at (s) | outcome |", "|--:|--:|---|");
    for (const i of tally.idle) lines.push(`| ${i.number} | ${i.at} | ${i.outcome} |`);
    lines.push("");
  }
  lines.push("### Server RSS samples", "", "| t (s) | RSS | open fds | |", "|--:|--:|--:|---|");
  for (const s of samples) lines.push(`| ${s.t} | ${mb(s.rss)} | ${s.fds ?? "n/a"} | ${s.label} |`);
  lines.push("");
  if (failures.length) {
    lines.push(`### Failures (first ${MAX_FAILURE_SAMPLES})`, "");
    for (const f of failures) lines.push(`- ${f.at} s, ${f.what}: \`${JSON.stringify({ ...f, at: undefined, what: undefined })}\``);
    lines.push("");
  }
  if (server.exit && !server.stopping) lines.push("### Server stderr (tail)", "", "```", server.stderr.trim().split("\n").slice(-30).join("\n"), "```", "");
  return lines.join("\n");
}
