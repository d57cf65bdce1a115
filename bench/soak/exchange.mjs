// The check of every valid batch: write it, match each reply against the model's expectation,
// and sort what went wrong into refused (the server was full), wrong, missing or cut off.
import { REFUSAL, REPLY_TIMEOUT_MS } from "./config.mjs";
import { inBurst } from "./clock.mjs";
import { shown } from "./format.mjs";
import { countErrorReply, countRefusal, recordFailure, tally } from "./tallies.mjs";

/**
 * Writes a batch (unless `written`: already on the wire) and checks every reply. Returns
 * "ok", "refused" (the server was full before running anything), or "failed" (counted and
 * recorded; the caller abandons the client's model).
 */
export async function exchangeBatch(client, wire, format, commands, context, { written = false } = {}) {
  tally.commandsSent += commands.length;
  if (!written) await wire.writePieces(Buffer.concat(commands.map((c) => c.bytes)), client.rng, client.rng.int(1, 4));
  let checked = 0;
  const pull = () => {
    while (checked < commands.length) {
      const frame = wire.frame(format);
      if (frame === null) return false;
      if (context.replies === 0 && checked === 0 && frame.toString("latin1") === REFUSAL) {
        context.refused = true;
        return true;
      }
      const command = commands[checked];
      if (!frame.equals(command.expect)) {
        const before = commands.slice(Math.max(0, checked - 3), checked).map((c) => `${shown(c.bytes, 80)} -> ${shown(c.expect, 40)}`);
        context.wrong = { command: shown(command.bytes), expected: shown(command.expect), got: shown(frame), before, after: shown(wire.rest(), 120) };
        return true;
      }
      if (command.expect.isError) countErrorReply(frame); // a text value may start with `-` too
      checked++;
      tally.repliesCorrect++;
    }
    return true;
  };
  await wire.wait(pull, REPLY_TIMEOUT_MS);
  pull();
  context.replies += checked;
  if (context.refused) {
    // Nothing ran, but the model already holds the batch: start a fresh key space.
    client.abandon();
    tally.commandsSent -= commands.length;
    countRefusal(wire);
    if (!inBurst()) {
      tally.refusedOutsideBurst++;
      recordFailure("refused below the connection limit", { client: client.id, session: client.sessions });
    }
    await wire.waitClosed(2000);
    wire.destroy("refused");
    return "refused";
  }
  if (context.wrong) {
    tally.wrongReplies++;
    recordFailure("wrong reply", { client: client.id, session: client.sessions, format, reply: checked + 1, of: commands.length, ...context.wrong });
    return "failed";
  }
  if (checked === commands.length) return "ok";
  const missing = commands.length - checked;
  const detail = {
    client: client.id,
    session: client.sessions,
    format,
    answered: checked,
    of: commands.length,
    next: shown(commands[checked].bytes),
    unparsed: shown(wire.rest(), 80),
  };
  if (wire.serverClosed || wire.error) {
    if (context.replies === 0 && checked === 0 && inBurst()) {
      // Reset at accept while the server was full: the refusal line was lost with the reset.
      client.abandon();
      tally.commandsSent -= commands.length;
      countRefusal(wire);
      wire.destroy("refused (reset)");
      return "refused";
    }
    tally.closedEarly += missing;
    recordFailure("valid connection closed by the server", { ...detail, error: wire.error?.code ?? null });
  } else {
    tally.missingReplies += missing;
    recordFailure(`no reply within ${REPLY_TIMEOUT_MS} ms`, detail);
  }
  return "failed";
}
