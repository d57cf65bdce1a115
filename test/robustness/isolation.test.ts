/**
 * Failure isolation: any exception a command causes, sync or async, wherever it is thrown
 * (the handler's constructor, `initialize`, `prepare`, the command, `onFinish`, a parameter
 * converter, the encoding of its reply) and whatever is thrown (an Error, 42, null), becomes
 * that one command's error reply. The connection, every other connection, the supervisor
 * actor and the process carry on; under load, a well-behaved client's pipeline is answered
 * in order with the right values while others throw thousands of times.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Application, CommandHandler, parameter, status } from "../../src/index.js";
import { type Running, TextClient, useTestBed } from "../support.js";
import { ChildServers } from "./child-server.js";
import { ProcessFaults, RawClients, resp, sleep } from "../wire.js";

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Commands that fail inside the command method. */
class Throwers extends CommandHandler {
  @parameter()
  boom(): never {
    throw new Error("sync boom");
  }

  @parameter()
  async aboom(): Promise<never> {
    await tick();
    throw new Error("async boom");
  }

  @parameter()
  reject(): Promise<never> {
    return Promise.reject(new TypeError("rejected"));
  }

  @parameter()
  throw42(): never {
    throw 42;
  }

  @parameter()
  thrownull(): never {
    throw null;
  }

  @parameter()
  throwundefined(): never {
    throw undefined;
  }

  @parameter()
  throwstring(): never {
    throw "a string";
  }

  @parameter()
  async athrow42(): Promise<never> {
    await tick();
    throw 42;
  }

  @parameter()
  async athrownull(): Promise<never> {
    await tick();
    throw null;
  }

  /** A value with no string conversion: String(value) itself throws. */
  @parameter()
  throwbare(): never {
    throw Object.create(null);
  }

  @parameter()
  async athrowbare(): Promise<never> {
    await tick();
    throw Object.create(null);
  }

  @parameter({
    name: "n",
    type: (raw: string) => {
      throw new Error(`bad n ${raw}`);
    },
  })
  convert(): string {
    return "never runs";
  }
}

class PrepareThrows extends CommandHandler {
  override prepare(): void {
    throw new Error("prepare");
  }

  @parameter()
  pboom(): string {
    return "never runs";
  }
}

class AsyncPrepareThrows extends CommandHandler {
  override async prepare(): Promise<void> {
    await tick();
    throw new Error("async prepare");
  }

  @parameter()
  apboom(): string {
    return "never runs";
  }
}

class FinishThrows extends CommandHandler {
  override onFinish(): void {
    throw new Error("onFinish");
  }

  @parameter()
  fboom(): string {
    return "discarded";
  }
}

class AsyncFinishThrows extends CommandHandler {
  override async onFinish(): Promise<void> {
    await tick();
    throw new Error("async onFinish");
  }

  @parameter()
  async afboom(): Promise<string> {
    await tick();
    return "discarded";
  }
}

class InitializeThrows extends CommandHandler {
  override initialize(): void {
    throw new Error("initialize");
  }

  @parameter()
  iboom(): string {
    return "never runs";
  }
}

function explode(): never {
  throw new Error("field initializer");
}

class ConstructorThrows extends CommandHandler {
  readonly field = explode();

  @parameter()
  cboom(): string {
    return String(this.field);
  }
}

/** A value whose string conversion throws. */
class Unprintable {
  toString(): string {
    throw new Error("no text");
  }
}

class BadReplies extends CommandHandler {
  /** Fails while its reply is being encoded, after the array header is written. */
  @parameter()
  badreply(): unknown[] {
    return [new Unprintable(), "second"];
  }
}

/** Well-behaved commands: the bystander's pipeline. */
const counters = new Map<string, number>();

class Good extends CommandHandler {
  @parameter()
  ping() {
    return status("PONG");
  }

  @parameter({ name: "key" })
  incr(): number {
    const key = this.getArgument("key");
    const value = (counters.get(key) ?? 0) + 1;
    counters.set(key, value);
    return value;
  }

  @parameter({ name: "word" })
  async aecho(): Promise<string> {
    const word = this.getArgument("word");
    if (word.endsWith("7")) await new Promise((resolve) => setTimeout(resolve, 1));
    else await tick();
    return word;
  }

  @parameter({ name: "word" })
  echo(): string {
    return this.getArgument("word");
  }
}

const HANDLERS = [
  Good,
  Throwers,
  PrepareThrows,
  AsyncPrepareThrows,
  FinishThrows,
  AsyncFinishThrows,
  InitializeThrows,
  ConstructorThrows,
  BadReplies,
];

const ISE = "-ERR Internal Server Error";

/** Every failure that must reply exactly ISE (text protocol), sync and async. */
const INTERNAL: readonly string[] = [
  "boom",
  "aboom",
  "reject",
  "throw42",
  "thrownull",
  "throwundefined",
  "throwstring",
  "athrow42",
  "athrownull",
  "pboom",
  "apboom",
  "fboom",
  "afboom",
  "iboom",
  "cboom",
];

describe("failure isolation", () => {
  const bed = useTestBed();
  const raw = new RawClients();
  const faults = new ProcessFaults();
  let running: Running;

  before(async () => {
    faults.start();
    running = await bed.start(new Application(HANDLERS));
  });

  after(() => {
    raw.destroyAll();
    faults.stop();
  });

  function assertNoProcessFaults(): void {
    assert.equal(faults.rejections.length + faults.exceptions.length, 0, faults.describe());
  }

  async function open(): Promise<TextClient> {
    const client = await bed.open(running.port);
    assert.equal(await client.command("ping"), "+PONG");
    return client;
  }

  it("each kind of failure replies -ERR Internal Server Error for that command only (text)", async () => {
    const client = await open();
    client.write(INTERNAL.map((name) => `${name}\r\necho after-${name}\r\n`).join(""));
    assert.deepEqual(
      await client.readLines(INTERNAL.length * 2),
      INTERNAL.flatMap((name) => [ISE, `after-${name}`]),
    );
    assertNoProcessFaults();
  });

  for (const version of [2, 3] as const) {
    it(`the same over RESP${version}, as raw bytes`, async () => {
      const client = await raw.open(running.port);
      const hello = version === 3 ? [resp("HELLO", "3")] : [];
      client.write(Buffer.concat([...hello, ...INTERNAL.flatMap((name) => [resp(name), resp("echo", `after-${name}`)])]));
      const replies = await client.replies(hello.length + INTERNAL.length * 2, version);
      assert.deepEqual(
        replies.slice(hello.length),
        INTERNAL.flatMap((name) => [
          { t: "error", v: "ERR Internal Server Error" },
          { t: "bulk", v: Buffer.from(`after-${name}`) },
        ]),
      );
      assertNoProcessFaults();
    });
  }

  it("a converter that throws refuses that command only, naming the argument (a bad argument, as documented)", async () => {
    const client = await open();
    client.write("convert 7\r\necho next\r\n");
    assert.deepEqual(await client.readLines(2), ["-ERR invalid value for argument 'n' of 'convert': bad n 7", "next"]);
    assertNoProcessFaults();
  });

  it("with debug: true, a non-Error value's text is in the reply", async () => {
    const debug = await bed.start(new Application(HANDLERS, { debug: true }));
    const client = await bed.open(debug.port);
    assert.equal(await client.command("ping"), "+PONG");
    client.write("throw42\r\nthrownull\r\nthrowundefined\r\nathrow42\r\nboom\r\nping\r\n");
    assert.deepEqual(await client.readLines(6), [
      `${ISE}: 42`,
      `${ISE}: null`,
      `${ISE}: undefined`,
      `${ISE}: 42`,
      `${ISE}: sync boom`,
      "+PONG",
    ]);
    assertNoProcessFaults();
  });

  it(
    "a thrown value with no string conversion (Object.create(null)) is still that command's error, sync or async",
    async () => {
      const client = await open();
      try {
        client.write("throwbare\r\necho after-sync\r\nathrowbare\r\necho after-async\r\n");
        assert.deepEqual(await client.readLines(4, 1000), [ISE, "after-sync", ISE, "after-async"]);
        assertNoProcessFaults();
      } finally {
        client.close(); // a stalled queue would otherwise hold the server's close for its whole timeout
      }
    },
  );

  it(
    "a reply that fails while it is encoded (RESP) becomes one error reply; later replies stay aligned",
    async () => {
      const client = await raw.open(running.port);
      client.write(Buffer.concat([resp("badreply"), resp("echo", "next"), resp("ping")]));
      assert.deepEqual(await client.replies(3, 2, 1000), [
        { t: "error", v: "ERR Internal Server Error" },
        { t: "bulk", v: Buffer.from("next") },
        { t: "simple", v: "PONG" },
      ]);
    },
  );

  it("a reply that fails while it is encoded (text) is that command's error only", async () => {
    const client = await open();
    client.write("badreply\r\necho next\r\n");
    assert.deepEqual(await client.readLines(2), [ISE, "next"]);
  });

  it("under load: four connections pipeline 10,000 failures while a fifth gets 3,000 right answers in order", async () => {
    const KINDS = [...INTERNAL, "convert"];
    const PER_CONNECTION = 2500;
    const before = running.server.stats();
    const throwers = await Promise.all(Array.from({ length: 4 }, () => open()));
    const good = await open();

    const sent = new Map<string, number>();
    const expected: string[][] = [];
    for (const [c, client] of throwers.entries()) {
      const names = Array.from({ length: PER_CONNECTION }, (_, i) => KINDS[(i + c * 5) % KINDS.length]!);
      for (const name of names) sent.set(name, (sent.get(name) ?? 0) + 1);
      expected.push(names.map((name) => (name === "convert" ? "-ERR invalid value for argument 'n' of 'convert': bad n x" : ISE)));
      client.write(names.map((name) => (name === "convert" ? "convert x\r\n" : `${name}\r\n`)).join(""));
    }
    // The bystander: sync and async commands, each answer checkable.
    const GOOD = 3000;
    const goodLines: string[] = [];
    const goodExpected: string[] = [];
    let n = 0;
    for (let i = 0; i < GOOD; i++) {
      if (i % 3 === 0) {
        goodLines.push("incr load");
        goodExpected.push(String(++n));
      } else if (i % 3 === 1) {
        goodLines.push(`aecho w${i}`);
        goodExpected.push(`w${i}`);
      } else {
        goodLines.push(`echo e${i}`);
        goodExpected.push(`e${i}`);
      }
    }
    // Sent in a few writes, interleaved with the failures' reads on the server.
    for (let i = 0; i < GOOD; i += 500) good.write(goodLines.slice(i, i + 500).map((line) => `${line}\r\n`).join(""));

    const [goodReplies, ...thrownReplies] = await Promise.all([
      good.readLines(GOOD, 20_000),
      ...throwers.map((client) => client.readLines(PER_CONNECTION, 20_000)),
    ]);
    assert.deepEqual(goodReplies, goodExpected);
    thrownReplies.forEach((replies, c) => assert.deepEqual(replies, expected[c], `connection ${c}`));

    const stats = running.server.stats();
    assert.equal(stats.errorsTotal - before.errorsTotal, 4 * PER_CONNECTION);
    for (const [name, count] of sent) {
      assert.equal((stats.commandCounts[name] ?? 0) - (before.commandCounts[name] ?? 0), count, name);
    }
    assert.equal(running.server.supervisor.getSnapshot().status, "active");
    // The throwing connections and new ones still work.
    for (const client of throwers) assert.equal(await client.command("echo alive"), "alive");
    const fresh = await open();
    assert.equal(await fresh.command("incr load"), String(n + 1));
    assertNoProcessFaults();
  });
});

describe("an async initialize that rejects, in a real server process", () => {
  const children = new ChildServers();
  after(() => children.killAll());

  it(
    "is that command's error; the command does not run and the process lives on",
    async () => {
      const server = children.start("test/robustness/fixtures/async-initialize-app.ts");
      const client = await TextClient.connect(await server.port());
      try {
        assert.equal(await client.command("ping"), "+PONG");
        client.write("aiboom\r\nping\r\n");
        const replies = await client.readLines(2, 3000).catch((error: Error) => [error.message]);
        // Give an unhandled rejection time to take the process down, if it is going to.
        await sleep(200);
        assert.ok(server.running, `the server process exited; stderr: ${server.stderr}`);
        assert.deepEqual(replies, [ISE, "+PONG"]);
        assert.ok(!server.stderr.includes("aiboom ran"), "the command ran although its initialize failed");
      } finally {
        client.close();
      }
    },
  );
});

describe("an authenticate setting that throws", () => {
  const bed = useTestBed();
  const raw = new RawClients();
  const faults = new ProcessFaults();
  let port = 0;

  class Secret extends CommandHandler {
    @parameter()
    ping() {
      return status("PONG");
    }
  }
  const app = new Application([Secret], {
    authenticate: (user: string) => {
      if (user === "sync") throw new Error("sync check failed");
      if (user === "value") throw 42;
      if (user === "null") throw null;
      return Promise.reject(new Error("async check failed"));
    },
    authFailureDelay: 0,
    maxAuthFailures: 0,
  });
  app.command("whoami", { authenticated: true }, (h) => `you are ${h.connection.user}`);

  before(async () => {
    faults.start();
    port = await bed.serve(app);
  });

  after(() => {
    raw.destroyAll();
    faults.stop();
  });

  const WRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled.";

  it("AUTH fails closed (WRONGPASS), logs nobody in, and the connection keeps working (text)", async () => {
    const client = await bed.open(port);
    assert.equal(await client.command("ping"), "+PONG");
    client.write("AUTH sync pw\r\nAUTH value pw\r\nAUTH null pw\r\nAUTH async pw\r\nwhoami\r\nping\r\n");
    assert.deepEqual(await client.readLines(6), [WRONGPASS, WRONGPASS, WRONGPASS, WRONGPASS, "-ERR Authorization required", "+PONG"]);
    assert.equal(faults.rejections.length + faults.exceptions.length, 0, faults.describe());
  });

  it("HELLO 3 AUTH with a throwing check is refused and leaves the connection on RESP2", async () => {
    const client = await raw.open(port);
    client.write(Buffer.concat([resp("HELLO", "3", "AUTH", "sync", "pw"), resp("whoami"), resp("ping")]));
    assert.deepEqual(await client.replies(3, 2), [
      { t: "error", v: WRONGPASS.slice(1) },
      { t: "error", v: "NOAUTH Authentication required." },
      { t: "simple", v: "PONG" },
    ]);
    assert.equal(faults.rejections.length + faults.exceptions.length, 0, faults.describe());
  });

  it("a header auth= token with a throwing check is a WRONGPASS line; the commands behind it still run", async () => {
    const client = await bed.open(port);
    client.write("auth=async:pw\r\nwhoami\r\nping\r\n");
    assert.deepEqual(await client.readLines(3), [WRONGPASS, "-ERR Authorization required", "+PONG"]);
    assert.equal(faults.rejections.length + faults.exceptions.length, 0, faults.describe());
  });
});
