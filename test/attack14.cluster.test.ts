/**
 * Outside-review attacks on `retopy serve --workers` (issue 14), as real child processes.
 * The primary and its workers share node:cluster's IPC channel with the application's own
 * code: a module in a worker that calls `process.send` with retopy's tags and the wrong
 * shapes (test/fixtures/attack14-ipc-app.ts) used to throw in the primary's message handler
 * (`message.channels.map` of undefined), which ended the primary and every worker with it.
 * Each such message is now ignored (a warning for the supervisor's kinds), and the server
 * goes on serving, counting and relaying.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import { CliProcess } from "./cli-process.js";

const APP = "test/fixtures/attack14-ipc-app.ts";
const children: CliProcess[] = [];
const clients: Redis[] = [];
after(() => {
  for (const client of clients) client.disconnect();
  for (const child of children) child.kill();
});

describe("attack 14: a worker's IPC messages of the wrong shape", () => {
  test("every malformed message is ignored: the primary lives, stats, PUBSUB and PUBLISH still answer, SIGTERM exits 0", async () => {
    const child = new CliProcess(["serve", APP, "--port", "0", "--log-format", "json", "--workers", "2"]);
    children.push(child);
    const line = await child.waitForLog("workers listening", 30_000);
    const port = line.port as number;
    const open = () => {
      const client = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on("error", () => undefined);
      clients.push(client);
      return client;
    };
    const poisoner = open();
    const count = Number(await poisoner.call("poison-count"));
    assert.ok(count >= 10, "the fixture's list of bad messages");
    for (let i = 0; i < count; i++) {
      assert.equal(await poisoner.call("poison", String(i)), "SENT");
      // A fresh connection each time: the primary must still be handing sockets to workers.
      const probe = open();
      assert.equal(await probe.call("ping"), "PONG", `after bad message ${i}`);
      const stats = (await probe.call("stats")) as unknown[];
      assert.ok(Array.isArray(stats) && stats.includes("commands_total"), `stats after bad message ${i}`);
      assert.equal(await probe.call("pubsub", "numpat"), 0, `no pattern was counted from bad message ${i}`);
      assert.deepEqual(await probe.call("pubsub", "channels"), [], `no channel was counted from bad message ${i}`);
      assert.equal(await probe.publish("news", "x"), 0);
      probe.disconnect();
      assert.equal(child.running, true, `primary alive after bad message ${i}`);
    }
    const warned = child.logs.filter((entry) => entry.msg === "ignored a malformed retopy IPC message from a worker");
    assert.ok(warned.length >= 5, `the supervisor's malformed kinds are logged at warn (${warned.length})`);
    assert.ok(!child.logs.some((entry) => entry.msg === "worker died"), "no worker died");
    poisoner.disconnect();
    child.child.kill("SIGTERM");
    const exit = await child.exit(30_000);
    assert.equal(exit.code, 0, JSON.stringify(exit));
  });
});
