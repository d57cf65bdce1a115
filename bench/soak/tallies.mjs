// What the soak saw: one `tally` object every module adds to, and the first failures with
// enough detail to reproduce them. The report and the pass/fail verdict read only these.
import { REFUSAL } from "./config.mjs";
import { elapsedSeconds, progress } from "./clock.mjs";

export const tally = {
  commandsSent: 0, // valid commands written in checked sessions (their replies are awaited)
  commandsAborted: 0, // valid commands written on connections the client then cut
  repliesCorrect: 0,
  wrongReplies: 0,
  missingReplies: 0, // no reply on a connection that stayed open
  closedEarly: 0, // valid commands whose connection the server closed before replying (below the limit)
  opened: 0,
  connectErrors: 0,
  refused: 0,
  refusedOutsideBurst: 0,
  closedByClient: 0,
  closedByServer: new Map(), // why -> count
  errorKinds: new Map(),
  scenarios: new Map(), // name -> { runs, ok, notes: Map }
  bursts: [],
  floods: [],
  idle: [],
};
export const failures = [];
export const MAX_FAILURE_SAMPLES = 20;

export function bump(map, key, by = 1) {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** The tally of one session kind, created on first use. */
export function scenario(name) {
  let entry = tally.scenarios.get(name);
  if (!entry) tally.scenarios.set(name, (entry = { runs: 0, ok: 0, notes: new Map() }));
  return entry;
}

/** Records a failure (counted by the caller) with what is needed to reproduce it. */
export function recordFailure(what, detail) {
  if (failures.length < MAX_FAILURE_SAMPLES) failures.push({ at: elapsedSeconds(), what, ...detail });
  progress(`FAILURE ${what}: ${JSON.stringify(detail).slice(0, 400)}`);
}

/** `-ERR unknown command 'x'` -> `ERR unknown command '…'`: error replies grouped by kind. */
export function errorKind(line) {
  const text = line.replace(/\r\n$/, "").slice(1);
  if (text.startsWith("ERR unknown command '")) return "ERR unknown command '…'";
  return text.replace(/ \(usage: .*\)$/, "").replace(/'[^']*'/g, "'…'");
}

/** A connection the server turned away; its refusal line counts as an error reply if it was read. */
export function countRefusal(wire) {
  tally.refused++;
  if (wire.head.startsWith(REFUSAL)) bump(tally.errorKinds, errorKind(REFUSAL));
}

export function countErrorReply(frame) {
  if (frame[0] === 0x2d) bump(tally.errorKinds, errorKind(frame.toString("latin1")));
}
