// The client sessions that send valid commands (pipelined, trickled, or cut off), and the
// client loop that picks one session after another by SOAK_SESSIONS weight until the deadline.
// Every session opens its own connection and returns "ok", "refused" (the server was full:
// not counted as run) or "failed" (counted and recorded where it was seen).
import { IDLE_TIMEOUT_MS, MAX_BATCH, MAX_BATCHES, REFUSAL, SESSIONS } from "./config.mjs";
import { sleep } from "./clock.mjs";
import { shown } from "./format.mjs";
import { exchangeBatch } from "./exchange.mjs";
import {
  garbageRespSession,
  garbageTextSession,
  hugeMultibulkSession,
  longLineSession,
  malformedRespSession,
} from "./garbage-sessions.mjs";
import { respRequest } from "./model.mjs";
import { running } from "./server-child.mjs";
import { bump, countRefusal, recordFailure, scenario, tally } from "./tallies.mjs";
import { Wire } from "./wire.mjs";

/** Pipelined valid commands over RESP or text, checked; ends with quit or a client close. */
async function validSession(client, format) {
  const entry = scenario(format);
  entry.runs++;
  const wire = new Wire();
  if (!(await wire.open())) return "refused";
  const rng = client.rng;
  const context = { replies: 0, refused: false, wrong: null };
  let first = true;
  if (format === "text" && rng.chance(0.3)) {
    wire.write(`soak client=${client.id} session=${client.sessions}\r\n`); // the handshake: no reply
    first = false;
  }
  const batches = rng.int(1, MAX_BATCHES);
  for (let b = 0; b < batches && (b === 0 || running()); b++) {
    const size = rng.chance(0.2) ? 1 : rng.int(2, MAX_BATCH);
    const outcome = await exchangeBatch(client, wire, format, client.batch(format, size, first), context);
    first = false;
    if (outcome === "refused") return "refused";
    if (outcome === "failed") {
      client.abandon();
      wire.destroy("unexpected");
      return "failed";
    }
    if (rng.chance(0.3)) await sleep(rng.int(0, 20));
  }
  entry.ok++;
  if (rng.chance(0.2)) {
    // quit: +OK, then the server closes.
    wire.write(format === "resp" ? respRequest(["QUIT"]) : Buffer.from("quit\r\n"));
    tally.commandsSent++;
    const got = await wire.wait(() => wire.rest() === "+OK\r\n" && (wire.serverClosed || wire.closed), 3000);
    if (got) tally.repliesCorrect++;
    else {
      tally.wrongReplies++;
      recordFailure("quit", { client: client.id, format, got: shown(wire.rest()), serverClosed: wire.serverClosed });
    }
    wire.end("quit");
  } else wire.end();
  return "ok";
}

/**
 * One or two commands trickled a byte at a time with pauses (the first 200 bytes; a long
 * value's rest follows in one write), then checked. Trickled bytes are not activity to the
 * idle timeout (only complete commands are), so the trickle stays within half of it.
 */
async function slowSession(client) {
  const entry = scenario("slow");
  entry.runs++;
  const rng = client.rng;
  const format = rng.chance(0.5) ? "resp" : "text";
  const wire = new Wire();
  if (!(await wire.open())) return "refused";
  const commands = client.batch(format, rng.int(1, 2), true);
  const bytes = Buffer.concat(commands.map((c) => c.bytes));
  const slow = Math.min(bytes.length, 200);
  const budget = IDLE_TIMEOUT_MS > 0 ? Math.min(3000, IDLE_TIMEOUT_MS / 2) : 3000;
  const pause = rng.int(1, Math.max(2, Math.floor(budget / slow)));
  const start = Date.now();
  let at = 0;
  for (; at < slow && !wire.gone && Date.now() - start < budget; at++) {
    wire.write(bytes.subarray(at, at + 1));
    await sleep(pause);
  }
  wire.write(bytes.subarray(at));
  const context = { replies: 0, refused: false, wrong: null };
  const outcome = await exchangeBatch(client, wire, format, commands, context, { written: true });
  if (outcome === "ok") {
    entry.ok++;
    wire.end();
  } else if (outcome === "failed") {
    client.abandon();
    wire.destroy();
  }
  return outcome;
}

/** Half a pipeline or half a command, then a close, a destroy or an RST. */
async function abortSession(client) {
  const entry = scenario("abort");
  entry.runs++;
  const rng = client.rng;
  const format = rng.chance(0.6) ? "resp" : "text";
  const wire = new Wire();
  if (!(await wire.open())) return "refused";
  const commands = client.batch(format, rng.int(2, MAX_BATCH), true);
  const bytes = Buffer.concat(commands.map((c) => c.bytes));
  // Mid-command: cut inside the last command; mid-pipeline: cut between commands, unread replies pending.
  const cut = rng.chance(0.5) ? rng.int(1, bytes.length - 1) : bytes.length - commands.at(-1).bytes.length;
  wire.write(bytes.subarray(0, Math.max(1, cut)));
  tally.commandsAborted += commands.length;
  client.abandon(); // which of these ran is unknown now
  if (rng.chance(0.5)) await sleep(rng.int(0, 30));
  const how = rng.weighted({ end: 1, destroy: 2, reset: 2 });
  if (wire.rest().startsWith(REFUSAL)) {
    countRefusal(wire);
    wire.destroy("refused");
    return "refused";
  }
  wire[how]();
  entry.ok++;
  bump(entry.notes, `closed by ${how}`);
  return "ok";
}

/** Every session kind by its SOAK_SESSIONS name. */
const RUN = {
  resp: (client) => validSession(client, "resp"),
  text: (client) => validSession(client, "text"),
  slow: slowSession,
  abort: abortSession,
  "garbage-text": garbageTextSession,
  "malformed-resp": malformedRespSession,
  "garbage-resp": garbageRespSession,
  "long-line": longLineSession,
  "huge-multibulk": hugeMultibulkSession,
};

/** One client: session after session, picked by weight, until the deadline (or the server is gone). */
export async function clientLoop(client) {
  let sessions = 0;
  while (running() && sessions < 1_000_000) {
    sessions++;
    client.sessions = sessions;
    const kind = client.rng.weighted(SESSIONS);
    const outcome = await RUN[kind](client);
    if (outcome === "refused") {
      scenario(kind).runs--; // not run: the server was full
      await sleep(client.rng.int(50, 250));
    } else if (client.rng.chance(0.2)) await sleep(client.rng.int(0, 10));
  }
}
