/**
 * The original README's session, typed through the real `telnet` program (Debian's
 * inetutils-telnet, installed by .ci/run) against the counter example.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
// The example imports "retopy" (the built package), so serve it with the built server too.
import { RetopyServer } from "retopy";
import { app } from "../examples/counter.js";
import { skipWithoutTelnet as skip, telnetSession } from "./telnet-support.js";

let server: RetopyServer;
let port: number;

before(async () => {
  server = new RetopyServer(app, { logger: false });
  ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
});

after(() => server.close({ timeout: 2000 }));

test("the README's telnet session works exactly as shown", { skip }, async () => {
  // One line at a time, as a person would; the last is `quit`, so the server closes and telnet exits.
  const lines = [
    "header line",
    "increment a",
    "increment a",
    "increment b",
    "increment a",
    "rem a",
    "get a",
    "quit",
  ];
  const output = await telnetSession(port, lines.map((line) => `${line}\n`));
  const banner = "Escape character is '^]'.\n";
  assert.ok(output.includes(`Connected to 127.0.0.1.\n${banner}`), output);
  const replies = output.slice(output.indexOf(banner) + banner.length);
  assert.equal(replies, "1\n2\n1\n3\n+OK\n-ERR a Not found\n+OK\n");
});
