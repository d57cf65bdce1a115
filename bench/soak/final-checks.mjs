// The end of the soak: delete every key the clients used (checking the counts the models
// predict), read the server's own `stats`, and prove a fresh client still gets PONG.
import { KEYS, REPLY_TIMEOUT_MS } from "./config.mjs";
import { shown } from "./format.mjs";
import { reply, respRequest } from "./model.mjs";
import { server } from "./server-child.mjs";
import { recordFailure, tally } from "./tallies.mjs";
import { Wire } from "./wire.mjs";

/** Deletes every key the clients used; the current generations' counts are checked. */
export async function cleanup(clients) {
  const wire = new Wire();
  if (!(await wire.open())) return { ok: false, note: "could not connect" };
  const commands = [];
  for (const client of clients) {
    const keys = Array.from({ length: KEYS }, (_, n) => client.key(n));
    commands.push({ bytes: respRequest(["DEL", ...keys]), expect: reply.integer(client.model.size, "resp"), checked: true });
    for (const generation of client.dirty) {
      const old = Array.from({ length: KEYS }, (_, n) => `soak:${client.id}:${generation}:k${n}`);
      commands.push({ bytes: respRequest(["DEL", ...old]), checked: false });
    }
  }
  commands.push({ bytes: respRequest(["DEL", "soak:flood:pad", "soak:flood:big"]), checked: false });
  let wrong = 0;
  let answered = 0;
  for (let i = 0; i < commands.length; i += 500) {
    const slice = commands.slice(i, i + 500);
    wire.write(Buffer.concat(slice.map((c) => c.bytes)));
    let got = 0;
    const pull = () => {
      for (let f = got < slice.length ? wire.frame("resp") : null; f !== null; f = got < slice.length ? wire.frame("resp") : null) {
        const command = slice[got++];
        answered++;
        if (command.checked) {
          tally.commandsSent++;
          if (f.equals(command.expect)) tally.repliesCorrect++;
          else {
            wrong++;
            tally.wrongReplies++;
            recordFailure("final DEL of a client's keys", { command: shown(command.bytes, 100), expected: shown(command.expect), got: shown(f) });
          }
        } else if (!/^:\d+\r\n$/.test(f.toString("latin1"))) {
          wrong++;
          tally.wrongReplies++;
          recordFailure("final DEL of unknown keys", { got: shown(f) });
        }
      }
      return got >= slice.length;
    };
    if (!(await wire.wait(pull, REPLY_TIMEOUT_MS))) break;
  }
  wire.end();
  return { ok: wrong === 0 && answered === commands.length, note: `${answered}/${commands.length} DELs answered, ${wrong} wrong` };
}

/** `stats` over text: the server's own counters. */
export async function serverStats() {
  const wire = new Wire();
  if (!(await wire.open())) return null;
  wire.write("stats\r\n");
  await wire.wait(() => /uptime_seconds: \d+\r\n/.test(wire.rest()), 5000);
  const text = wire.rest();
  wire.end();
  const stats = {};
  for (const match of text.matchAll(/^(\w+): (\d+)\r$/gm)) stats[match[1]] = Number(match[2]);
  return stats;
}

/** A fresh client's PING must get PONG. */
export async function finalPing() {
  if (server.gone) return false;
  const wire = new Wire();
  if (!(await wire.open())) return false;
  wire.write(respRequest(["PING"]));
  const ok = await wire.wait(() => wire.rest() === "+PONG\r\n", 5000);
  wire.end();
  return ok;
}
