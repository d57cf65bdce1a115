// The sessions of bad input: garbage lines, malformed and random RESP, over-long lines and a
// huge multibulk count. Each knows exactly which error replies (and which close) the server
// owes it, so "the server coped" is checked, not assumed. Each returns "ok", "refused" or "failed".
import { REFUSAL, REPLY_TIMEOUT_MS } from "./config.mjs";
import { NON_LETTERS } from "./random.mjs";
import { inBurst, sleep } from "./clock.mjs";
import { shown } from "./format.mjs";
import { respRequest } from "./model.mjs";
import { bump, countErrorReply, countRefusal, errorKind, recordFailure, scenario, tally } from "./tallies.mjs";
import { Wire, peer } from "./wire.mjs";

/** src/protocol/telnet.ts's MAX_SUBNEGOTIATION: an `IAC SB` that never ends swallows no more. */
const SUBNEGOTIATION_LIMIT = 512;

/**
 * What a text-protocol server must see of `bytes` once telnet commands (RFC 854) are taken
 * out: IAC IAC is a literal 0xFF, IAC WILL/WONT/DO/DONT takes one option byte, IAC SB runs
 * to IAC SE (or, as the server bounds it, until its 513th byte other than an IAC pair,
 * which is text again), IAC and any other byte is a command of its own. Returns the bytes
 * kept and the bytes that bring the stream back to plain data (so what follows is read as text).
 */
function withoutTelnet(bytes) {
  const kept = [];
  let state = "data";
  let subLength = 0;
  for (const byte of bytes) {
    if (state === "data") {
      if (byte === 0xff) state = "command";
      else kept.push(byte);
    } else if (state === "command") {
      if (byte === 0xff) kept.push(0xff);
      state = byte === 0xff ? "data" : byte >= 0xfb && byte <= 0xfe ? "option" : byte === 0xfa ? "sub" : "data";
      subLength = 0;
    } else if (state === "option") state = "data";
    else if (state === "sub") {
      if (byte === 0xff) state = "sub-iac";
      else if (++subLength > SUBNEGOTIATION_LIMIT) {
        state = "data";
        kept.push(byte);
      }
    } else state = byte === 0xf0 ? "data" : "sub";
  }
  const back = { data: [], command: [0xf1], option: [0x01], sub: [0xff, 0xf0], "sub-iac": [0xf0] }[state];
  return { kept: Buffer.from(kept), back: Buffer.from(back) };
}

/**
 * Lines of random non-letter bytes between two PINGs: exactly one error reply per non-blank
 * line of what is left once telnet commands (0xFF sequences, which may swallow line ends)
 * are taken out.
 */
export async function garbageTextSession(client) {
  const entry = scenario("garbage-text");
  entry.runs++;
  const rng = client.rng;
  const wire = new Wire();
  if (!(await wire.open())) return "refused";
  const lines = [];
  for (let n = rng.int(1, 30); n > 0; n--) lines.push(rng.bytes(0, 120, NON_LETTERS), Buffer.from("\n"));
  const garbage = Buffer.concat(lines);
  const { kept, back } = withoutTelnet(garbage);
  // After `back` the filter reads plain data again: the LF sent next ends the last line for sure.
  const bytes = Buffer.concat([Buffer.from("ping\r\n"), garbage, back, Buffer.from("\nping\r\n")]);
  const seen = `${kept.toString("latin1")}\n`.split("\n").slice(0, -1);
  const errors = seen.filter((line) => /[^ \t\n\v\f\r]/.test(line)).length;
  await wire.writePieces(bytes, rng, rng.int(1, 5));
  const frames = [];
  const pull = () => {
    for (let f = wire.frame("text"); f !== null; f = wire.frame("text")) frames.push(f.toString("latin1"));
    return frames.length >= errors + 2;
  };
  await wire.wait(pull, REPLY_TIMEOUT_MS);
  pull();
  const middle = frames.slice(1, -1);
  const ok =
    frames.length === errors + 2 &&
    frames[0] === "+PONG\r\n" &&
    frames.at(-1) === "+PONG\r\n" &&
    middle.every((f) => f.startsWith("-ERR unknown command '") || f === "-ERR Protocol error: unbalanced quotes\r\n");
  if (ok) {
    entry.ok++;
    for (const f of middle) countErrorReply(Buffer.from(f, "latin1"));
    wire.end();
    return "ok";
  }
  if (frames.length === 0 && wire.rest() === "" && wire.serverClosed && inBurst()) {
    countRefusal(wire);
    wire.destroy("refused (reset)");
    return "refused";
  }
  if (frames[0] === REFUSAL) {
    countRefusal(wire);
    wire.destroy("refused");
    return "refused";
  }
  tally.wrongReplies++;
  recordFailure("garbage-text", {
    client: client.id,
    expectedErrors: errors,
    got: frames.length,
    frames: frames.slice(0, 4).map((f) => shown(f, 60)),
    request: shown(bytes, 300),
    serverClosed: wire.serverClosed,
  });
  wire.destroy();
  return "failed";
}

const MALFORMED = [
  ["*abc\r\n", "invalid multibulk length"],
  ["*1048577\r\n", "invalid multibulk length"], // one past maxArgs
  ["*99999999999\r\n", "invalid multibulk length"],
  ["*2\r\n$abc\r\n", "invalid bulk length"],
  ["*1\r\n$-5\r\n", "invalid bulk length"],
  ["*1\r\n$600000000\r\n", "invalid bulk length"], // past maxBulkLength (512 MiB)
  ["*1\r\n$99999999999\r\n", "invalid bulk length"],
  ["*2\r\n:1\r\n", "expected '$', got ':'"],
  ["*2\r\n$3\r\nSET\r\n+OK\r\n", "expected '$', got '+'"],
  ["*1\r\n$3\r\nabcXY", "expected CRLF after bulk string"],
  ["*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nvv\r\n", "expected CRLF after bulk string"],
];

/** A RESP PING, then one malformed frame: exactly `+PONG`, `-ERR Protocol error: ...`, close. */
export async function malformedRespSession(client) {
  const entry = scenario("malformed-resp");
  entry.runs++;
  const rng = client.rng;
  const wire = new Wire();
  if (!(await wire.open())) return "refused";
  const [frame, message] = rng.pick(MALFORMED);
  const pongs = frame.includes("PING") ? 2 : 1;
  const expected = "+PONG\r\n".repeat(pongs) + `-ERR Protocol error: ${message}\r\n`;
  await wire.writePieces(Buffer.concat([respRequest(["PING"]), Buffer.from(frame)]), rng, rng.int(1, 3));
  const done = await wire.wait(() => wire.rest() === expected && wire.serverClosed, REPLY_TIMEOUT_MS);
  if (done) {
    entry.ok++;
    bump(tally.errorKinds, errorKind(`-ERR Protocol error: ${message}`));
    tally.repliesCorrect += pongs;
    wire.destroy("protocol error");
    return "ok";
  }
  if (wire.rest().startsWith(REFUSAL) || (wire.rest() === "" && wire.serverClosed && inBurst())) {
    countRefusal(wire);
    wire.destroy("refused");
    return "refused";
  }
  if (wire.writeFailed && expected.startsWith(wire.rest())) {
    entry.ok++;
    bump(entry.notes, "our write hit the closed socket before the reply was read");
    wire.destroy("protocol error");
    return "ok";
  }
  tally.wrongReplies++;
  recordFailure("malformed-resp", { client: client.id, request: shown(frame), expected: shown(expected), got: shown(wire.rest()), ...peer(wire) });
  wire.destroy();
  return "failed";
}

/** Random non-letter bytes after a RESP PING: only error replies; a fatal one closes the connection. */
export async function garbageRespSession(client) {
  const entry = scenario("garbage-resp");
  entry.runs++;
  const rng = client.rng;
  const wire = new Wire();
  if (!(await wire.open())) return "refused";
  const junk = rng.bytes(20, 500, NON_LETTERS);
  if (rng.chance(0.6)) junk[0] = 0x2a; // `*`: a multibulk header of sorts
  await wire.writePieces(Buffer.concat([respRequest(["PING"]), junk]), rng, rng.int(1, 4));
  const frames = [];
  const fatal = (f) => f.startsWith("-ERR Protocol error:") && f !== "-ERR Protocol error: unbalanced quotes\r\n";
  const pull = () => {
    for (let f = wire.frame("resp"); f !== null; f = wire.frame("resp")) frames.push(f.toString("latin1"));
    return frames.some(fatal) && wire.serverClosed;
  };
  // Without a fatal error the server waits for the rest of a frame: give it a moment.
  await wire.wait(pull, 1000);
  pull();
  if (frames[0] === REFUSAL || (frames.length === 0 && wire.serverClosed && inBurst())) {
    countRefusal(wire);
    wire.destroy("refused");
    return "refused";
  }
  const errorsOnly = frames.length >= 1 && frames[0] === "+PONG\r\n" && frames.slice(1).every((f) => f.startsWith("-ERR "));
  const closedIfFatal = !frames.some(fatal) || wire.serverClosed;
  if (errorsOnly && closedIfFatal && (!wire.serverClosed || frames.some(fatal))) {
    entry.ok++;
    tally.repliesCorrect++;
    for (const f of frames.slice(1)) countErrorReply(Buffer.from(f, "latin1"));
    bump(entry.notes, frames.some(fatal) ? "protocol error, closed" : "left waiting, client closed");
    if (wire.serverClosed) wire.destroy("protocol error");
    else wire.destroy();
    return "ok";
  }
  if (wire.writeFailed && (frames.length === 0 || (frames[0] === "+PONG\r\n" && frames.slice(1).every((f) => f.startsWith("-ERR "))))) {
    entry.ok++;
    bump(entry.notes, "our write hit the closed socket before the replies were read");
    wire.destroy("protocol error");
    return "ok";
  }
  tally.wrongReplies++;
  recordFailure("garbage-resp", { client: client.id, request: shown(junk, 300), frames: frames.slice(0, 5).map((f) => shown(f, 80)), ...peer(wire) });
  wire.destroy();
  return "failed";
}

/** Over-long inline lines: in the handshake, in a text session, in a RESP session. */
export async function longLineSession(client) {
  const entry = scenario("long-line");
  entry.runs++;
  const rng = client.rng;
  const variant = rng.pick(["header", "text", "text-lf", "resp"]);
  const wire = new Wire();
  if (!(await wire.open())) return "refused";
  let prefix = Buffer.alloc(0);
  let expected;
  let body;
  if (variant === "header") {
    body = Buffer.alloc(rng.int(300, 4000), 0x78);
    expected = "-ERR Protocol error: header too large (max 255 bytes)\r\n";
  } else {
    prefix = variant === "resp" ? respRequest(["PING"]) : Buffer.from("ping\r\n");
    body = Buffer.alloc(rng.int(65_540, 200_000), 0x78);
    if (variant === "text-lf") body = Buffer.concat([body, Buffer.from("\r\n")]);
    expected = "+PONG\r\n-ERR Protocol error: too big inline request\r\n";
  }
  wire.write(Buffer.concat([prefix, body]));
  const done = await wire.wait(() => wire.rest() === expected && wire.serverClosed, REPLY_TIMEOUT_MS);
  if (done) {
    entry.ok++;
    if (prefix.length) tally.repliesCorrect++;
    bump(tally.errorKinds, errorKind(expected.split("\r\n").at(-2)));
    wire.destroy("protocol error");
    return "ok";
  }
  if (wire.rest().startsWith(REFUSAL) || (wire.rest() === "" && wire.serverClosed && inBurst())) {
    countRefusal(wire);
    wire.destroy("refused");
    return "refused";
  }
  // A reset may overtake the error line when the server closes with our bytes unread.
  if ((wire.writeFailed || wire.error?.code === "ECONNRESET") && expected.startsWith(wire.rest())) {
    entry.ok++;
    bump(entry.notes, "reset before the error line was read");
    wire.destroy("protocol error");
    return "ok";
  }
  tally.wrongReplies++;
  recordFailure("long-line", { client: client.id, variant, length: body.length, expected: shown(expected), got: shown(wire.rest()), ...peer(wire) });
  wire.destroy();
  return "failed";
}

/** `*1048576` (within maxArgs) and a trickle of arguments: no reply, the connection stays open. */
export async function hugeMultibulkSession(client) {
  const entry = scenario("huge-multibulk");
  entry.runs++;
  const rng = client.rng;
  const wire = new Wire();
  if (!(await wire.open())) return "refused";
  wire.write(Buffer.concat([respRequest(["PING"]), Buffer.from("*1048576\r\n")]));
  const writes = rng.int(5, 40);
  for (let i = 0; i < writes && !wire.gone; i++) {
    wire.write(Buffer.from("$1\r\na\r\n".repeat(rng.int(1, 50))));
    await sleep(rng.int(1, 10));
  }
  // The PING's reply, and then nothing: the request is still incomplete.
  await wire.wait(() => wire.rest().length >= 7, REPLY_TIMEOUT_MS);
  await wire.wait(() => wire.rest().length > 7, 50);
  if (wire.rest().startsWith(REFUSAL) || (wire.rest() === "" && wire.serverClosed && inBurst())) {
    countRefusal(wire);
    wire.destroy("refused");
    return "refused";
  }
  if (wire.rest() === "+PONG\r\n" && !wire.gone) {
    entry.ok++;
    tally.repliesCorrect++;
    wire.reset();
    return "ok";
  }
  tally.wrongReplies++;
  recordFailure("huge-multibulk", { client: client.id, got: shown(wire.rest()), ...peer(wire) });
  wire.destroy();
  return "failed";
}
