/**
 * The original README's session, typed through the real `telnet` program (Debian's
 * inetutils-telnet, installed by .ci/run) against the counter example.
 */
import { spawn, spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
// The example imports "retopy" (the built package), so serve it with the built server too.
import { RetopyServer } from "retopy";
import { app } from "../examples/counter.js";

const hasTelnet = spawnSync("sh", ["-c", "command -v telnet"]).status === 0;
// In CI the tool must be there: a missing telnet is a failure, not a skip.
const skip = !hasTelnet && !process.env.CI ? "telnet is not installed (apt-get install telnet)" : false;

let server: RetopyServer;
let port: number;

before(async () => {
  server = new RetopyServer(app, { logger: false });
  ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
});

after(() => server.close({ timeout: 2000 }));

/** Types `lines` into telnet one by one, as a person would, and returns what telnet printed. */
async function telnetSession(lines: string[]): Promise<string> {
  const child = spawn("telnet", ["127.0.0.1", String(port)], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const guard = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(300); // let telnet connect before typing
  for (const line of lines) {
    child.stdin.write(`${line}\n`);
    await sleep(50);
  }
  await exited; // the last line is `quit`, so the server closes and telnet exits
  clearTimeout(guard);
  return output;
}

test("the README's telnet session works exactly as shown", { skip }, async () => {
  const output = await telnetSession([
    "header line",
    "increment a",
    "increment a",
    "increment b",
    "increment a",
    "rem a",
    "get a",
    "quit",
  ]);
  const banner = "Escape character is '^]'.\n";
  assert.ok(output.includes(`Connected to 127.0.0.1.\n${banner}`), output);
  const replies = output.slice(output.indexOf(banner) + banner.length);
  assert.equal(replies, "1\n2\n1\n3\n+OK\n-ERR a Not found\n+OK\n");
});
