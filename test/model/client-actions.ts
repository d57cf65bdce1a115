/**
 * What a real client does for each event the model offers: the mapping from the
 * connection machine's events (in their meaningful variants) to bytes on a socket, with
 * the immediate replies each must get. The path generator offers an action only where
 * its modes, states and protocols say a client can do it and the machine takes its event.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { eventually } from "../support.js";
import type { ConnectionEvent } from "../../machines/connection.machine.js";
import { type ClientAction, HEADER_TIMEOUT_EVENT, LINGER_TIMEOUT_EVENT } from "./connection-model.js";
import { IDLE_TIMEOUT_MS, LINGER_TIMEOUT_MS, MAX_HEADER_SIZE, PASSWORDS, type Session } from "./live-harness.js";

type Action = ClientAction<Session>;

/** Open and reading: where a client's commands are read and run. */
const OPEN = ["ready", "authenticated"] as const;
const RESP = ["resp2", "resp3"] as const;

function headerLine(key: string, length: number): string {
  return `${key}=${"x".repeat(length - key.length - 1)}`;
}
const AT_LIMIT = headerLine("limit", MAX_HEADER_SIZE);
const AT_LIMIT_SPLIT = headerLine("split", MAX_HEADER_SIZE);
const AUTH_FIRST = `AUTH bob ${PASSWORDS.bob}`;
const TOO_LARGE = `-ERR Protocol error: header too large (max ${MAX_HEADER_SIZE} bytes)`;

/** Checks a literal event against the machine's event type; each action gets its own object. */
const ev = <E extends ConnectionEvent>(event: E): E => event;

/**
 * In order of preference: the path generator reaches each state first through the earliest
 * action that leads there, so the plain ways in come first and the known bug comes last.
 */
export const CLIENT_ACTIONS: readonly Action[] = [
  // ---- the handshake -------------------------------------------------------------------------
  {
    label: "sends a command first",
    event: ev({ type: "HEADER_IMPLICIT" }),
    modes: ["auto"],
    states: ["header"],
    drive: async (s) => {
      s.send(["ping"]);
      await s.expect(["+PONG"]); // run at once: it was the implicit header and the first command
    },
  },
  {
    label: "connects (no handshake)",
    event: ev({ type: "HEADER_IMPLICIT" }),
    modes: ["none"],
    states: ["header"],
    drive: async () => undefined, // the server takes the implicit header as it accepts
  },
  {
    label: "sends a header line",
    event: ev({ type: "HEADER", fields: { client: "model" }, size: "client=model".length }),
    modes: ["auto"],
    states: ["header"],
    drive: async (s) => s.sendRaw("client=model\r\n"), // no reply: the ready check's first reply proves it
  },
  {
    label: "sends a header line that reads like a command",
    event: ev({ type: "HEADER", fields: { client: "model" }, size: "ping client=model".length }),
    modes: ["line"],
    states: ["header"],
    drive: async (s) => s.sendRaw("ping client=model\r\n"), // a header in `line` mode: ping must not run
  },
  {
    label: "sends AUTH as its first line",
    event: ev({ type: "HEADER", fields: {}, size: AUTH_FIRST.length }),
    modes: ["auto"],
    states: ["header"],
    drive: async (s) => s.sendRaw(`${AUTH_FIRST}\r\n`), // AUTH does not skip the handshake: no login
  },
  {
    label: "sends a RESP request first",
    event: ev({ type: "HEADER_IMPLICIT", protocol: "resp2" }),
    modes: ["auto", "line"],
    states: ["header"],
    drive: async (s) => {
      s.sendRaw("*1\r\n$4\r\nping\r\n");
      await s.expect(["+PONG"], "resp2");
    },
  },
  {
    label: `sends a ${MAX_HEADER_SIZE}-byte header line`,
    event: ev({ type: "HEADER", fields: { limit: AT_LIMIT.slice("limit=".length) }, size: MAX_HEADER_SIZE }),
    modes: ["auto", "line"],
    states: ["header"],
    drive: async (s) => s.sendRaw(`${AT_LIMIT}\r\n`),
  },
  {
    label: "sends a 300-byte header line",
    event: ev({ type: "HEADER", fields: {}, size: 300 }),
    modes: ["auto", "line"],
    states: ["header"],
    drive: async (s) => {
      s.sendRaw(`${"x".repeat(300)}\r\n`);
      await s.expect([TOO_LARGE]);
    },
  },
  {
    label: "sends 400 header bytes without a newline",
    event: ev({ type: "HEADER", fields: {}, size: 400 }),
    modes: ["auto", "line"],
    states: ["header"],
    drive: async (s) => {
      s.sendRaw("y".repeat(400));
      await s.expect([TOO_LARGE]);
    },
  },
  {
    label: "waits past headerTimeout",
    event: { type: HEADER_TIMEOUT_EVENT },
    modes: ["auto", "line"],
    states: ["header"],
    drive: async (s) => s.expect(["-ERR Protocol error: header timeout"], "text", s.limits.headerTimeout + 3000),
  },
  // ---- logins --------------------------------------------------------------------------------
  {
    label: "logs in with the application's command",
    event: ev({ type: "LOGIN", user: "alice" }),
    modes: ["auto"],
    states: OPEN,
    drive: async (s) => s.request(["authenticate", "alice", PASSWORDS.alice], ["welcome alice"]),
  },
  {
    label: "logs in with AUTH",
    event: ev({ type: "LOGIN", user: "bob" }),
    modes: ["auto"],
    states: OPEN,
    drive: async (s) => s.request(["AUTH", "bob", PASSWORDS.bob], ["+OK"]),
  },
  {
    label: "logs out",
    event: ev({ type: "LOGOUT" }),
    modes: ["auto"],
    states: ["authenticated"],
    drive: async (s) => s.request(["logout"], ["+OK"]),
  },
  // ---- protocol switches ---------------------------------------------------------------------
  {
    label: "sends HELLO 2",
    event: ev({ type: "PROTOCOL", protocol: "resp2" }),
    modes: ["auto"],
    states: OPEN,
    drive: async (s) => {
      s.send(["HELLO", "2"]);
      await s.expectHello(2);
    },
  },
  {
    label: "sends HELLO 3",
    event: ev({ type: "PROTOCOL", protocol: "resp3" }),
    modes: ["auto"],
    states: OPEN,
    drive: async (s) => {
      s.send(["HELLO", "3"]);
      await s.expectHello(3);
    },
  },
  // ---- the client falls behind -------------------------------------------------------------
  {
    label: "stops reading while the server pushes to it",
    event: ev({ type: "OUTPUT_BACKED_UP" }),
    modes: ["auto"],
    states: OPEN,
    drive: (s) => s.pushUntilPaused(), // through server.connections, past the high-water mark
  },
  {
    label: "reads its replies again",
    event: ev({ type: "OUTPUT_CAUGHT_UP" }),
    modes: ["auto"],
    states: ["paused"],
    drive: (s) => s.readPushes(),
  },
  {
    label: "the server pushes to it past maxOutputBuffer",
    event: ev({ type: "CLOSE", reason: "output_limit" }),
    modes: ["auto"],
    states: ["paused"],
    drive: (s) => s.pushUntilCut(),
  },
  // ---- closes --------------------------------------------------------------------------------
  {
    label: "sends quit",
    event: ev({ type: "QUIT", reason: "quit" }),
    modes: ["auto"],
    states: OPEN,
    drive: async (s) => s.request(["quit"], ["+OK"]),
  },
  {
    label: "sends a line over maxLineLength",
    event: ev({ type: "QUIT", reason: "protocol_error" }),
    modes: ["auto"],
    states: OPEN,
    protocols: ["text"],
    drive: async (s) => {
      s.sendRaw(`${"z".repeat(s.limits.maxLineLength! + 100)}\r\n`);
      await s.expect(["-ERR Protocol error: too big inline request"]);
    },
  },
  {
    label: "sends a malformed RESP request",
    event: ev({ type: "QUIT", reason: "protocol_error" }),
    modes: ["auto"],
    states: OPEN,
    protocols: RESP,
    drive: async (s) => {
      s.sendRaw("*1\r\nx\r\n");
      await s.expect(["-ERR Protocol error: expected '$', got 'x'"]);
    },
  },
  {
    label: "is closed by an operator (server.connections)",
    event: ev({ type: "QUIT", reason: "quit" }),
    modes: ["auto"],
    states: ["header", "afterQueue"],
    drive: async (s) => s.entry!.close(),
  },
  {
    label: "is there when the server shuts down",
    event: ev({ type: "DRAIN", reason: "server_closing" }),
    modes: ["auto"],
    // Not while paused: the shutdown would close at once (nothing is owed), leaving the model's
    // `afterQueue` behind before the next step; `has a command running` takes that transition.
    states: ["header"],
    needsOwnServer: true,
    drive: async (s) => s.shutDown(),
  },
  {
    label: "has a command running when the server shuts down",
    event: ev({ type: "DRAIN", reason: "server_closing" }),
    modes: ["auto"],
    states: OPEN,
    needsOwnServer: true,
    drive: async (s) => {
      await s.hold(); // `hold` runs until released, `ping` waits behind it
      s.shutDown();
    },
  },
  {
    label: "gets every reply it is owed",
    event: ev({ type: "REPLIES_SENT" }),
    modes: ["auto"],
    states: ["afterQueue", "afterReply"],
    drive: async (s) => {
      // After a shutdown every command received is answered; after a quit only the running one.
      const expected = s.release(s.model?.matches({ open: { flow: { closing: "afterQueue" } } }) ?? false);
      if (expected.length > 0) await s.expect(expected);
    },
  },
  {
    label: "closes its socket",
    event: ev({ type: "CLOSE", reason: "client_closed" }),
    modes: ["auto", "line"],
    // Not in afterReply: after a quit the server does not wait there for the client, so the
    // only next step the model and the server agree on is the reply going out.
    states: ["header", "ready", "authenticated", "paused", "afterQueue", "lingering"],
    drive: async (s) => s.client.destroy(),
  },
  {
    label: "keeps its socket open past the linger time",
    event: { type: LINGER_TIMEOUT_EVENT },
    modes: ["auto"],
    states: ["lingering"],
    // Two seconds each: one path is enough.
    when: (snapshot) => snapshot.context.closeReason === "quit" && snapshot.context.protocol === "text",
    drive: async (s) => s.serverClosed(LINGER_TIMEOUT_MS + 3000), // the server's linger timer releases the socket
  },
  {
    label: "stays idle",
    event: ev({ type: "IDLE_TIMEOUT" }),
    modes: ["auto"],
    states: ["header", "ready", "authenticated", "paused"],
    needsIdleTimeout: true,
    // Silently; a client that is not reading sees the end only once it reads again (the check does).
    drive: async (s) => eventually(() => s.live.observer.of(s.id).value === "lingering", IDLE_TIMEOUT_MS + 3000, "the idle connection to be ended"),
  },
  // ---- a header at the limit whose line ending is split (once refused as too large) ---------
  {
    label: `sends a ${MAX_HEADER_SIZE}-byte header line whose CRLF is split across two packets`,
    event: ev({ type: "HEADER", fields: { split: AT_LIMIT_SPLIT.slice("split=".length) }, size: MAX_HEADER_SIZE }),
    modes: ["auto", "line"],
    states: ["header"],
    drive: async (s) => {
      s.sendRaw(`${AT_LIMIT_SPLIT}\r`);
      await sleep(50); // let the server read the line without its LF
      s.sendRaw("\n");
    },
  },
];
