/**
 * A command that never settles cannot hold its connection forever: past `commandTimeout`
 * (or its own `@command({ timeout })`) it is answered `-TIMEOUT`, its signal aborts, later
 * pipelined replies follow in order, and what it writes or returns later is dropped.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Application, CommandHandler, command, parameter, RetopyError } from "../../src/index.js";
import { eventually, useTestBed } from "../support.js";
import { ProcessFaults, RawClients, renderReply, resp, sleep } from "../wire.js";

const seen = { aborted: 0, lateSettled: 0, reason: "" };
/** Resolves the `late` commands still waiting. */
const lateRelease: (() => void)[] = [];

class Stuck extends CommandHandler {
  @parameter()
  forever(): Promise<never> {
    this.signal.addEventListener("abort", () => {
      seen.aborted++;
      seen.reason = String((this.signal.reason as Error)?.message);
    });
    return new Promise<never>(() => undefined);
  }

  /** Settles only when the test says so: after its timeout, writes and returns. */
  @parameter()
  async late(): Promise<string> {
    await new Promise<void>((resolve) => lateRelease.push(resolve));
    seen.lateSettled++;
    this.write("too late");
    return "too late";
  }

  @parameter()
  @command({ timeout: 0 })
  async patient(): Promise<string> {
    await sleep(250);
    return "done";
  }

  @parameter()
  @command({ timeout: 50 })
  async hasty(): Promise<string> {
    await sleep(1000);
    return "never";
  }

  @parameter({ name: "word" })
  echo(): string {
    return this.getArgument("word");
  }
}

describe("commandTimeout", () => {
  const bed = useTestBed();
  const clients = new RawClients();

  it("answers a never-settling command -TIMEOUT, aborts its signal, and keeps later replies in order", async () => {
    const port = await bed.serve(new Application([Stuck]), { commandTimeout: 150, handshake: "none" });
    const client = await clients.open(port);
    client.write(Buffer.concat([resp("echo", "a"), resp("forever"), resp("echo", "b")]));
    assert.deepEqual((await client.nextReplies(3, 2, 3000)).map(renderReply), ["a", "-TIMEOUT command 'forever' timed out after 150 ms", "b"]);
    assert.equal(seen.aborted, 1);
    assert.match(seen.reason, /timed out after 150 ms/);
    const text = await clients.open(port);
    text.write("forever\r\necho c\r\n");
    assert.deepEqual(await text.lines(2, 3000), ["-TIMEOUT command 'forever' timed out after 150 ms", "c"]);
    clients.destroyAll();
  });

  it("what a timed-out command writes or returns later is dropped, with no unhandled rejection", async () => {
    const faults = new ProcessFaults().start();
    try {
      const port = await bed.serve(new Application([Stuck]), { commandTimeout: 100, handshake: "none" });
      const client = await clients.open(port);
      client.write(Buffer.concat([resp("late"), resp("echo", "next")]));
      assert.deepEqual((await client.nextReplies(2, 2, 3000)).map(renderReply), ["-TIMEOUT command 'late' timed out after 100 ms", "next"]);
      for (const release of lateRelease.splice(0)) release();
      await eventually(() => seen.lateSettled === 1, 2000, "the late command to settle");
      client.write(resp("echo", "after"));
      assert.deepEqual((await client.nextReplies(1, 2)).map(renderReply), ["after"]);
      assert.equal(faults.take().count, 0, faults.describe());
    } finally {
      faults.stop();
      clients.destroyAll();
    }
  });

  it("@command({ timeout }) overrides the server's: 0 is none, a shorter one applies alone", async () => {
    const port = await bed.serve(new Application([Stuck]), { commandTimeout: 100, handshake: "none" });
    const client = await clients.open(port);
    client.write(Buffer.concat([resp("patient"), resp("hasty")]));
    assert.deepEqual((await client.nextReplies(2, 2, 3000)).map(renderReply), ["done", "-TIMEOUT command 'hasty' timed out after 50 ms"]);
    clients.destroyAll();
  });

  it("a timed command's signal still aborts when its client goes away", async () => {
    const port = await bed.serve(new Application([Stuck]), { commandTimeout: 10_000, handshake: "none" });
    const client = await clients.open(port);
    const before = seen.aborted;
    client.write(resp("forever"));
    await sleep(100);
    client.destroy();
    await eventually(() => seen.aborted === before + 1, 2000, "the command's signal to abort");
    assert.doesNotMatch(seen.reason, /timed out/);
  });

  it("a bad timeout is refused at startup", () => {
    assert.throws(() => new Application().command("x", { timeout: -1 }, () => "x"), (e) => e instanceof RetopyError && e.code === "RETOPY_INVALID_COMMAND");
  });
});
