/**
 * Attacks on the hooks, command statistics, metrics, PING/ECHO and reply checks added for
 * issue 13, as a hostile client, a careless handler and a slow network would make them,
 * over real TCP on 127.0.0.1. Each test names what it attacks and what must hold.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Application } from "../../src/index.js";
import { eventually, useTestBed } from "../support.js";

describe("issue 13 attacks: connection hooks", () => {
  const bed = useTestBed();

  it("a client that leaves while an async onConnect runs: onClose runs after onConnect is done, never before", async () => {
    const app = new Application();
    app.command("hello", {}, () => "world");
    const events: string[] = [];
    app.addHook("onConnect", async () => {
      events.push("connect start");
      await sleep(100);
      events.push("connect end");
    });
    app.addHook("onClose", (_connection, reason) => void events.push(`close ${reason}`));
    const port = await bed.serve(app);
    const client = await bed.open(port);
    client.send("hello"); // pipelined behind the hook, then the client leaves mid-hook
    await eventually(() => events.length === 1);
    client.close();
    await eventually(() => events.length === 3, 3000, "onConnect and onClose");
    assert.deepEqual(events, ["connect start", "connect end", "close client_closed"]);
  });
});
