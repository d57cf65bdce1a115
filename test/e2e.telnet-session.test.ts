/**
 * The original retopy README's telnet session, byte for byte, against examples/counter.ts.
 *
 * The example imports "retopy" (the package itself), which resolves to dist/: run
 * `npm run build` first. Its `app` is therefore a dist Application, served here by the dist
 * RetopyServer; every other end-to-end test runs on src through test/support.ts.
 *
 * The example's counters are module-level and shared by every test in this file, so each
 * test resets `a` and `b` over a separate connection before replaying the session.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { RetopyServer } from "retopy";
import { app } from "../examples/counter.js";
import { rawLength, type TextClient, useTestBed } from "./support.js";
import { SEED_SESSION } from "./seed-session.js";

/** The session as the README shows it: what is typed, and what the server answers. */
const SESSION = SEED_SESSION;

const EXPECTED_BYTES = "1\r\n2\r\n1\r\n3\r\n+OK\r\n-ERR a Not found\r\n";
const SESSION_BYTES = SESSION.map(([line]) => `${line}\r\n`).join("");

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));


describe("README telnet session (examples/counter.ts served from dist)", () => {
  // Only the clients go through the bed: the server is the dist one, started and closed below.
  const bed = useTestBed();
  let server: RetopyServer;
  let port: number;

  const open = (): Promise<TextClient> => bed.open(port);

  /** Deletes the session's counters over a separate connection (`rem` as first line is a command). */
  const reset = async (): Promise<void> => {
    const client = await open();
    assert.equal(await client.command("rem a b"), "+OK");
    client.close();
  };

  before(async () => {
    server = new RetopyServer(app, { logger: false });
    ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
  });

  // Registered after the bed's hook, so it runs after the clients are closed.
  after(() => server.close({ timeout: 2000 }));

  it("replays the session one line per packet, byte for byte", async () => {
    await reset();
    const client = await open();
    for (const [line, reply] of SESSION) {
      const before = client.raw.length;
      client.send(line);
      if (reply === null) {
        // The header gets no reply: give it time to (wrongly) produce one, and keep it alone.
        await sleep(30);
        assert.equal(client.raw.length, before, `'${line}' must not be answered`);
      } else {
        assert.equal(await client.readLine(), reply, `reply to '${line}'`);
      }
    }
    assert.equal(client.raw, EXPECTED_BYTES);
  });

  it("gives the same bytes when the whole session arrives in one packet", async () => {
    await reset();
    const client = await open();
    client.write(SESSION_BYTES);
    assert.equal(await rawLength(client, EXPECTED_BYTES.length), EXPECTED_BYTES);
    await sleep(20); // nothing more may follow
    assert.equal(client.raw, EXPECTED_BYTES);
  });

  it("gives the same bytes when packets split lines, and CR from LF, anywhere", async () => {
    await reset();
    const client = await open();
    // Cut points chosen to split a word, a CRLF pair, and the header from the first command.
    const cuts = [3, 12, 13, 20, 24, 47, 48, 60];
    let start = 0;
    for (const cut of [...cuts, SESSION_BYTES.length]) {
      client.write(SESSION_BYTES.slice(start, cut));
      start = cut;
      await sleep(5);
    }
    assert.equal(await rawLength(client, EXPECTED_BYTES.length), EXPECTED_BYTES);
    await sleep(20);
    assert.equal(client.raw, EXPECTED_BYTES);
  });

  it("keeps the counters on the server between connections", async () => {
    await reset();
    const first = await open();
    assert.equal(await first.command("increment a"), "1");
    first.close();
    const second = await open();
    assert.equal(await second.command("increment a"), "2");
    assert.equal(await second.command("get a"), "2");
  });
});
