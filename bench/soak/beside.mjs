// What runs beside the client loops: connection bursts past maxConnections, a never-reading
// client (output backpressure), an idle client (idleTimeout), each on its own period, and the
// RSS/fd samples. Their results go into `tally` (bursts, floods, idle) and `samples`.
import { once } from "node:events";
import net from "node:net";
import { BURST_EXTRA, FLOOD_BYTES, HOST, IDLE_TIMEOUT_MS, MAX_CONNECTIONS, REFUSAL, REPLY_TIMEOUT_MS } from "./config.mjs";
import { clock, elapsedSeconds, nextTick, progress, sleep } from "./clock.mjs";
import { mb, shown } from "./format.mjs";
import { respRequest } from "./model.mjs";
import { running, server, serverFds, serverRss } from "./server-child.mjs";
import { bump, countErrorReply, countRefusal, recordFailure, tally } from "./tallies.mjs";
import { Wire, peer } from "./wire.mjs";

/** maxConnections + SOAK_BURST_EXTRA connections at once; each PINGs or is refused. */
export async function burst(number) {
  const size = MAX_CONNECTIONS + BURST_EXTRA;
  clock.burstUntil = Infinity;
  const result = { number, at: elapsedSeconds(), size, accepted: 0, refused: 0, reset: 0, connectErrors: 0, other: 0 };
  progress(`burst ${number}: ${size} connections`);
  const wires = Array.from({ length: size }, () => new Wire());
  await Promise.all(
    wires.map(async (wire) => {
      if (!(await wire.open(10_000))) {
        result.connectErrors++;
        return;
      }
      // A refusal comes at accept: give it a moment before speaking.
      await wire.wait(() => wire.received > 0, 300);
      if (!wire.gone && wire.received === 0) {
        wire.write(respRequest(["PING"]));
        tally.commandsSent++;
        await wire.wait(() => wire.received >= 7, REPLY_TIMEOUT_MS);
      }
      const got = wire.rest();
      if (got === "+PONG\r\n") {
        result.accepted++;
        tally.repliesCorrect++;
      } else if (got.startsWith(REFUSAL)) {
        if (got !== REFUSAL) tally.commandsSent--;
        result.refused++;
        countRefusal(wire);
        const closed = await wire.waitClosed(3000);
        if (!closed) {
          result.other++;
          recordFailure("burst: refused connection left open", { burst: number });
        }
      } else if (got === "" && wire.serverClosed) {
        result.reset++;
      } else {
        result.other++;
        tally.wrongReplies++;
        recordFailure("burst: unexpected reply", { burst: number, got: shown(got), ...peer(wire) });
      }
    }),
  );
  await sleep(1000); // hold the accepted ones: the server stays full for a moment
  for (const wire of wires) {
    if (wire.serverClosed) wire.destroy(wire.rest().startsWith(REFUSAL) ? "refused" : "reset at accept");
    else wire.destroy();
  }
  clock.burstUntil = Date.now() + 1000;
  tally.bursts.push(result);
  progress(`burst ${number}: ${result.accepted} accepted, ${result.refused} refused, ${result.reset} reset`);
}

/**
 * One never-reading client (its socket is never read from, so the replies back up into the
 * server). Odd cycles pipeline SET pad (16 KB in) + GET big (16 KB out): reading should pause
 * at outputHighWaterMark, so our writes stall. Even cycles pipeline GETs of a 4 KB value only
 * (35 bytes in, 4 KB out, 256 per write): the server must stop running them (or cut us off)
 * long before it stops reading for lack of room, so our writes stall too. A cycle ends when
 * the writes stall for 3 s, the server closes the connection, SOAK_FLOOD_MB of requests went
 * out, or after 20 s. After 2 s more it starts reading: a server that only paused must then
 * deliver every reply owed (counted in bytes), and keep doing so until they are all in.
 */
export async function flood(number) {
  const variant = number % 2 === 1 ? "SET+GET" : "GET only";
  const result = { number, variant, at: elapsedSeconds(), sentBytes: 0, repliesOwed: 0, received: 0, outcome: "", after: "" };
  Object.assign(result, { rssBefore: serverRss(), rssPeak: 0, rssAfter: null });
  const socket = net.connect({ port: server.port, host: HOST });
  socket.pause(); // never read (until the end)
  let error = null;
  let closed = false;
  socket.on("error", (e) => (error ??= e));
  socket.on("close", () => (closed = true));
  const connected = await Promise.race([once(socket, "connect").then(() => true, () => false), sleep(5000).then(() => false)]);
  if (!connected) {
    socket.destroy();
    tally.connectErrors++;
    result.outcome = "could not connect";
    tally.floods.push(result);
    return;
  }
  tally.opened++;
  const big = Buffer.alloc(variant === "SET+GET" ? 16 * 1024 : 4 * 1024, 0x62);
  const getReply = `$${big.length}\r\n`.length + big.length + 2;
  const round =
    variant === "SET+GET"
      ? Buffer.concat([respRequest(["SET", "soak:flood:pad", Buffer.alloc(16 * 1024, 0x70)]), respRequest(["GET", "soak:flood:big"])])
      : Buffer.concat(Array.from({ length: 256 }, () => respRequest(["GET", "soak:flood:big"])));
  const roundReply = variant === "SET+GET" ? 5 + getReply : 256 * getReply;
  socket.write(respRequest(["SET", "soak:flood:big", big]));
  result.repliesOwed = 5;
  const start = Date.now();
  const sample = setInterval(() => {
    result.rssPeak = Math.max(result.rssPeak, serverRss() ?? 0);
  }, 100);
  const gone = () => closed || error !== null || socket.destroyed;
  try {
    while (!gone() && result.sentBytes < FLOOD_BYTES && Date.now() - start < 20_000 && !server.gone) {
      const flushed = socket.write(round);
      result.sentBytes += round.length;
      result.repliesOwed += roundReply;
      if (flushed) {
        await nextTick();
        continue;
      }
      const drained = await Promise.race([once(socket, "drain").then(() => true, () => false), sleep(3000).then(() => false)]);
      if (!drained && !gone()) {
        result.outcome = "server stopped reading";
        break;
      }
    }
    if (!result.outcome) {
      if (gone()) result.outcome = `server closed the connection (${error?.code ?? "closed"})`;
      else if (Date.now() - start >= 20_000) result.outcome = "time limit, still writing";
      else result.outcome = "server kept reading (SOAK_FLOOD_MB sent)";
    }
    result.seconds = Math.round((Date.now() - start) / 100) / 10;
    await sleep(2000); // hold it, still not reading
    result.rssPeak = Math.max(result.rssPeak, serverRss() ?? 0);
  } finally {
    clearInterval(sample);
  }
  // Now read: count what arrives until everything owed is in, the server closes, nothing
  // came for 3 s, or 30 s went by.
  let ended = false;
  let lastData = Date.now();
  socket.on("data", (chunk) => {
    result.received += chunk.length;
    lastData = Date.now();
  });
  socket.on("end", () => (ended = true));
  socket.resume();
  const readStart = Date.now();
  const reading = () => Date.now() - readStart < 30_000 && Date.now() - lastData < 3000 && !ended && !closed;
  while (reading() && result.received < result.repliesOwed) await sleep(50);
  await sleep(100);
  const cut = ended || closed || error !== null;
  if (result.received === result.repliesOwed && !cut) result.after = "every reply arrived";
  else if (cut) result.after = `connection closed by the server${error ? ` (${error.code})` : ""}`;
  else if (Date.now() - lastData < 3000) result.after = "replies still arriving after 30 s";
  else {
    result.after = "replies missing on an open connection";
    tally.missingReplies++;
    recordFailure("flood: replies missing after reading resumed", { cycle: number, variant, owed: result.repliesOwed, received: result.received });
  }
  if (cut) bump(tally.closedByServer, "flood (output limit)");
  else tally.closedByClient++;
  socket.destroy();
  await sleep(1000);
  result.rssAfter = serverRss();
  tally.floods.push(result);
  progress(`flood ${number} (${variant}): ${result.outcome} after ${mb(result.sentBytes)} sent; ${result.after}`);
}

/** A client that PINGs once and then stays silent: the server should close it after idleTimeout. */
export async function idleProbe(number) {
  const result = { number, at: elapsedSeconds(), outcome: "" };
  const wire = new Wire();
  if (!(await wire.open())) {
    result.outcome = "could not connect";
    tally.idle.push(result);
    return;
  }
  wire.write(respRequest(["PING"]));
  const pong = await wire.wait(() => wire.rest().length >= 7, REPLY_TIMEOUT_MS);
  const start = Date.now();
  if (wire.rest().startsWith(REFUSAL)) {
    countRefusal(wire);
    result.outcome = "refused (server full): skipped";
  } else if (!pong || !wire.rest().startsWith("+PONG\r\n")) {
    result.outcome = `no PONG (${shown(wire.rest())})`;
    tally.missingReplies++;
    recordFailure("idle probe: no PONG", { got: shown(wire.rest()), serverClosed: wire.serverClosed });
  } else {
    const limit = IDLE_TIMEOUT_MS + 3000;
    const closed = await wire.wait(() => wire.serverClosed || wire.closed, limit);
    const waited = ((Date.now() - start) / 1000).toFixed(1);
    const extra = wire.rest().slice(7);
    result.outcome = closed ? `closed by the server after ${waited} s${extra ? ` with ${shown(extra)}` : ""}` : `still open after ${waited} s`;
    if (closed && extra.startsWith("-")) countErrorReply(Buffer.from(extra, "latin1"));
  }
  wire.destroy(wire.serverClosed ? (wire.rest().startsWith(REFUSAL) ? "refused" : "idle timeout") : "unexpected");
  tally.idle.push(result);
  progress(`idle ${number}: ${result.outcome}`);
}

/**
 * Runs `task(n)` every `everyMs` from `firstMs` while the soak runs (one at a time), but
 * starts none with less than `needsMs` left, so the wind-down stays short.
 */
export async function periodic(firstMs, everyMs, needsMs, task) {
  let number = 0;
  let next = Date.now() + firstMs;
  while (running() && number < 10_000) {
    await sleep(Math.max(0, Math.min(next, clock.deadline) - Date.now()));
    if (!running() || clock.deadline - Date.now() < needsMs) break;
    number++;
    await task(number);
    next = Math.max(next + everyMs, Date.now() + 1000);
  }
}

/** Server RSS and open fds over time, labelled at start, end and after the settle. */
export const samples = [];

export function takeSample(label = "") {
  samples.push({ t: elapsedSeconds(), rss: serverRss(), fds: serverFds(), label });
}
