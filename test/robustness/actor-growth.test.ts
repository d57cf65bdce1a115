/**
 * Memory that grows with the number of connections a server has *served* (not the number
 * open) is a leak however small it is: a server that runs for months serves millions. These
 * checks look at the two places the soak (`npm run soak`) once found such growth.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ParsedItem } from "../../src/protocol/wire.js";
import { Application, CommandHandler, command, status, type Status } from "../../src/index.js";
import { RequestDecoder } from "../../src/protocol/request-decoder.js";
import { useTestBed } from "../support.js";

class Basics extends CommandHandler {
  @command({ help: "Replies PONG." })
  ping(): Status {
    return status("PONG");
  }
}

describe("growth with connections served", () => {
  const bed = useTestBed();

  it("the supervisor sees the same few event types however many connections come and go", async () => {
    const running = await bed.start(new Application([Basics]));
    const types = new Set<string>();
    // XState caches transitions per event type: event types unique per connection grow it forever.
    const subscription = running.server.supervisor.system.inspect((event) => {
      if (event.type === "@xstate.event" && event.actorRef === running.server.supervisor) types.add(event.event.type);
    });
    for (let i = 0; i < 60; i++) {
      const client = await bed.open(running.port);
      assert.equal(await client.command("ping"), "+PONG");
      client.close();
      await client.closed();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    subscription.unsubscribe();
    assert.equal(running.server.stats().connectionsCurrent, 0);
    assert.ok(types.size <= 6, `the supervisor received ${types.size} event types: ${[...types].slice(0, 8).join(", ")}`);
  });

  it("an unfinished `*1048576` request does not reserve room for a million arguments", () => {
    const decoders: RequestDecoder[] = [];
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20; i++) {
      const decoder = new RequestDecoder("resp", { maxLineLength: 65536, maxBulkLength: 1 << 29, maxArgs: 1 << 20 });
      const out: ParsedItem[] = [];
      decoder.push(Buffer.from("*1048576\r\n$1\r\na\r\n"), out);
      assert.deepEqual(out, []);
      decoders.push(decoder);
    }
    const grown = process.memoryUsage().heapUsed - before;
    // Reserving up front took 8 MB per decoder (160 MB for these 20).
    assert.ok(grown < 20 * 1024 * 1024, `20 unfinished requests took ${(grown / 1048576).toFixed(1)} MB of heap`);
    assert.equal(decoders.length, 20);
  });
});
