/**
 * CommandRunner directly: one connection's queue, with a host that records what it is asked
 * to do (writes, closes, idle) instead of a socket. The order of replies across sync and
 * async commands and across batches, one write per synchronous batch, pushes between
 * replies, a close that drops what is queued, and a stop that writes nothing more.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, it } from "node:test";
import { pino } from "pino";
import { createActor } from "xstate";
import { supervisorMachine } from "../machines/supervisor.machine.js";
import { CommandRunner, type RunnerHost } from "../src/command-runner.js";
import type { ConnectionInfo } from "../src/connection-info.js";
import { Application, CommandError, CommandHandler, parameter } from "../src/index.js";
import { PROTOCOLS } from "../src/protocol/protocols.js";
import type { OutputChunk } from "../src/protocol/reply-output.js";
import { PubSub } from "../src/pubsub/registry.js";
import type { QuitReason } from "../machines/connection.machine.js";
import { StatsBuffer } from "../src/stats.js";

class Commands extends CommandHandler {
  @parameter({ name: "word" })
  echo(): string {
    return this.getArgument("word");
  }

  @parameter({ name: "ms", type: "int" })
  async later(): Promise<string> {
    await sleep(this.getArgument<number>("ms"));
    return `after ${this.getArgument<number>("ms")}`;
  }

  @parameter()
  fail(): never {
    throw new CommandError("refused");
  }

  @parameter({ name: "message" })
  announce(): string {
    this.connection.push(this.getArgument("message"));
    return "announced";
  }

  @parameter()
  bye(): string {
    this.connection.close();
    return "bye";
  }
}

const stopped: { stop(): void }[] = [];
afterEach(() => stopped.splice(0).forEach((actor) => actor.stop()));

/** A host that records every write (one entry per `send`) and the connection's life calls. */
function start() {
  const supervisor = createActor(supervisorMachine, { input: { startedAt: 0 } }).start();
  stopped.push(supervisor);
  const stats = new StatsBuffer(supervisor);
  const writes: string[] = [];
  const closes: QuitReason[] = [];
  let idles = 0;
  let runner!: CommandRunner;
  const application = new Application([Commands]);
  const connection = {
    id: "c1",
    protocol: "text",
    signal: new AbortController().signal,
    logger: pino({ level: "silent" }),
    close: () => host.requestClose("quit"),
    push: (...values: unknown[]) => runner.push(values as never),
  } as unknown as ConnectionInfo;
  const host: RunnerHost = {
    application,
    connection,
    server: { stats: () => stats.read(), commandStats: () => stats.commands.read(true), resetStats: () => stats.commands.reset(), pubsub: new PubSub(), get redis(): never { throw new Error("no redis in this test") } },
    stats,
    opening: null,
    encoder: PROTOCOLS.text.encoder,
    isAuthenticated: () => false,
    commandTimeout: 0,
    send: (output: OutputChunk | OutputChunk[]) => {
      writes.push([output].flat().map((chunk) => chunk.toString()).join(""));
    },
    get closeRequested() {
      return closes.length > 0;
    },
    requestClose: (reason) => void closes.push(reason),
    outputBlocked: () => null,
    idle: () => void idles++,
  };
  runner = new CommandRunner(host);
  return { runner, writes, closes, idles: () => idles, stats };
}

const words = (...commands: string[]) => commands.map((command) => command.split(" "));

describe("CommandRunner", () => {
  it("a synchronous batch runs in order and leaves in one write; the queue then says it is idle", () => {
    const { runner, writes, idles } = start();
    runner.enqueue(words("echo a", "fail", "nosuch", "echo b"));
    assert.deepEqual(writes, ["a\r\n-ERR refused\r\n-ERR unknown command 'nosuch'\r\nb\r\n"]);
    assert.equal(runner.busy, false);
    assert.equal(idles(), 1);
  });

  it("is idle only when nothing is queued, running or announced (expect) and not yet enqueued", async () => {
    const { runner, writes } = start();
    assert.equal(runner.idle, true, "a fresh queue holds nothing");
    runner.expect(); // a batch on its way through the handler actor's mailbox
    runner.expect();
    assert.equal(runner.idle, false, "a batch on its way: the connection must keep this queue");
    runner.enqueue(words("echo a"));
    assert.equal(runner.idle, false, "one batch still on its way");
    runner.enqueue(words("later 20"));
    assert.equal(runner.idle, false, "an async command runs");
    for (let i = 0; i < 100 && runner.busy; i++) await sleep(10);
    assert.equal(runner.idle, true);
    assert.deepEqual(writes, ["a\r\n", "after 20\r\n"]);
    runner.enqueue(words("echo b")); // enqueued without expect(): the count never goes below zero
    assert.equal(runner.idle, true);
  });

  it("an async command holds the queue: replies keep their order across it and across later batches", async () => {
    const { runner, writes, idles } = start();
    runner.enqueue(words("echo a", "later 30", "echo b"));
    assert.deepEqual(writes, ["a\r\n"], "what ran before the async command is written at once");
    assert.equal(runner.busy, true);
    assert.equal(runner.pending, 2, "the running command and the one behind it");
    runner.enqueue(words("echo c")); // a later read, while the async command runs
    for (let i = 0; i < 100 && runner.busy; i++) await sleep(10);
    assert.deepEqual(writes.join(""), "a\r\nafter 30\r\nb\r\nc\r\n");
    assert.equal(idles(), 1, "idle once, when the whole queue ran dry");
  });

  it("a push joins the output between replies: before the reply of the command that made it", () => {
    const { runner, writes } = start();
    runner.enqueue(words("echo a", "announce hello", "echo b"));
    assert.deepEqual(writes, ["a\r\nhello\r\nannounced\r\nb\r\n"]);
  });

  it("a push while the queue waits on an async command is written at once", async () => {
    const { runner, writes } = start();
    runner.enqueue(words("later 30"));
    runner.push(["news"]);
    assert.deepEqual(writes, ["news\r\n"]);
    for (let i = 0; i < 100 && runner.busy; i++) await sleep(10);
    assert.deepEqual(writes, ["news\r\n", "after 30\r\n"]);
  });

  it("a close asked for by a command: its reply is the last, what is queued behind it is dropped", () => {
    const { runner, writes, closes, idles } = start();
    runner.enqueue(words("echo a", "bye", "echo never", "echo dropped"));
    assert.deepEqual(writes, ["a\r\nbye\r\n"]);
    assert.deepEqual(closes, ["quit"]);
    assert.equal(idles(), 1, "the connection hears the queue is dry, and closes");
    runner.enqueue(words("echo late"));
    assert.deepEqual(writes, ["a\r\nbye\r\n"], "nothing runs once the close was asked for");
  });

  it("stop() while an async command runs: its reply and the queue behind it are never written", async () => {
    const { runner, writes, idles } = start();
    runner.enqueue(words("later 20", "echo b"));
    runner.stop();
    await sleep(60);
    runner.push(["late news"]);
    runner.enqueue(words("echo c"));
    assert.deepEqual(writes, []);
    assert.equal(idles(), 0);
  });

  it("counts each command run, failures included, for stats", () => {
    const { runner, stats } = start();
    runner.enqueue(words("echo a", "fail", "echo b"));
    const read = stats.read();
    assert.equal(read.commandsTotal, 3);
    assert.equal(read.errorsTotal, 1);
    assert.deepEqual({ ...read.commandCounts }, { echo: 2, fail: 1 });
  });
});
