/**
 * The outside review's attacks, replayed as it ran them: against `retopy serve` as a child
 * process, with the examples (or the careless fixture app), from raw sockets on 127.0.0.1.
 * Each case is one promise of the README: one client cannot stall, crash or bloat the server
 * for the others; every accepted command gets exactly one reply, in order; a login means
 * what it says. The unit and property tests of each fix live beside the code's other tests;
 * this file is the hostile client's view, and fails on the code the review broke.
 */
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { ChildServers } from "./child-server.js";
import { RawClients, renderReply, resp } from "../wire.js";

const children = new ChildServers();
const clients = new RawClients();
afterEach(() => clients.destroyAll());
after(() => children.killAll());

async function serve(module: string, args: readonly string[] = []): Promise<number> {
  return children.start(module, args).port();
}

describe("pattern matching cannot stall the server (ReDoS)", () => {
  it("PUBSUB CHANNELS with a star-heavy pattern answers at once, and others are served meanwhile", async () => {
    const port = await serve("examples/counter.ts");
    const subscriber = await clients.open(port);
    subscriber.write(resp("AUTH", "myusername", "mypass"));
    await subscriber.nextReplies(1, 2);
    const channel = "a".repeat(40);
    subscriber.write(resp("SUBSCRIBE", channel));
    await subscriber.nextReplies(1, 2);

    const attacker = await clients.open(port);
    attacker.write(resp("AUTH", "myusername", "mypass"));
    await attacker.nextReplies(1, 2);
    // 9 stars took the RegExp 10.7 s against this channel; 30 would never finish.
    attacker.write(resp("PUBSUB", "CHANNELS", `${"*a".repeat(30)}*b`));
    attacker.write(resp("PUBSUB", "CHANNELS", `${"*a".repeat(30)}*`));
    const bystander = await clients.open(port);
    bystander.write(resp("PING"));
    assert.deepEqual((await bystander.nextReplies(1, 2, 3000)).map(renderReply), ["+PONG"]);
    const [none, one] = await attacker.nextReplies(2, 2, 3000);
    assert.deepEqual(none, { t: "array", v: [] });
    assert.ok(one?.t === "array");
    assert.deepEqual(one.v.map(renderReply), [channel]);
  });

  it("a 100-star pattern against a 10 KB channel name answers at once", async () => {
    const port = await serve("examples/counter.ts");
    const client = await clients.open(port);
    client.write(resp("AUTH", "myusername", "mypass"));
    await client.nextReplies(1, 2);
    const channel = "x".repeat(10 * 1024);
    client.write(resp("SUBSCRIBE", channel));
    await client.nextReplies(1, 2);
    client.write(resp("PUBSUB", "CHANNELS", `${"*x".repeat(100)}*y`));
    client.write(resp("PUBSUB", "CHANNELS", `${"*x".repeat(100)}*`));
    const [miss, hit] = await client.nextReplies(2, 2, 3000);
    assert.deepEqual(miss, { t: "array", v: [] });
    assert.ok(hit?.t === "array");
    assert.equal(hit.v.length, 1);
  });
});

describe("text replies cannot be forged with CR/LF", () => {
  it("a stored value with CRLF comes back as one line (examples/kv.ts)", async () => {
    const port = await serve("examples/kv.ts");
    const client = await clients.open(port);
    client.write('set k "v\\r\\n+OK"\r\n');
    assert.deepEqual(await client.lines(1), ["+OK"]);
    client.write("get k\r\nping\r\n");
    const [value, pong] = await client.lines(2);
    assert.equal(pong, "+PONG", `the value took ${JSON.stringify(value)} and spilled into the next reply`);
    assert.ok(!value!.includes("\r") && !value!.includes("\n"));
  });

  it("a map key with CRLF stays on its line (PUBSUB NUMSUB)", async () => {
    const port = await serve("examples/kv.ts");
    const client = await clients.open(port);
    client.write('pubsub numsub "a\\r\\n+OK"\r\nping\r\n');
    const [entry, pong] = await client.lines(2);
    assert.equal(pong, "+PONG", `the key spilled: ${JSON.stringify(entry)}`);
    assert.match(entry!, /: 0$/);
  });

  it("an Error returned as a value is one line", async () => {
    const port = await serve("test/robustness/fixtures/careless-app.ts");
    const client = await clients.open(port);
    client.write("returnserror\r\nping\r\n");
    const [error, pong] = await client.lines(2);
    assert.equal(pong, "+PONG", `the error spilled: ${JSON.stringify(error)}`);
    assert.match(error!, /^-ERR first line/);
  });
});

describe("every accepted command gets exactly one reply, in order", () => {
  for (const failing of ["amsgnum", "smsgnum", "aproxy"]) {
    it(`${failing}; echo one; echo two: three replies on text and on RESP`, async () => {
      const port = await serve("test/robustness/fixtures/careless-app.ts");
      const text = await clients.open(port);
      text.write(`${failing}\r\necho one\r\necho two\r\n`);
      const [error, one, two] = await text.lines(3);
      assert.match(error!, /^-ERR /);
      assert.deepEqual([one, two], ["one", "two"]);

      const wire = await clients.open(port);
      wire.write(Buffer.concat([resp(failing), resp("echo", "one"), resp("echo", "two")]));
      const replies = (await wire.nextReplies(3, 2)).map(renderReply);
      assert.match(replies[0]!, /^-ERR /);
      assert.deepEqual(replies.slice(1), ["one", "two"]);
    });
  }
});

describe("command-name folding is ASCII only", () => {
  it("BLOC\\u212A (Kelvin sign) is not BLOCK", async () => {
    const port = await serve("test/robustness/fixtures/careless-app.ts", ["--handshake", "none"]);
    const client = await clients.open(port);
    client.write(Buffer.from("BLOC\u212A\r\nBLOCK\r\n", "utf8"));
    const [kelvin, ascii] = await client.lines(2);
    assert.match(kelvin!, /^-ERR unknown command/);
    assert.equal(ascii, "blocked");
  });
});

describe("client text is never echoed unbounded", () => {
  it("help <60 KB name> answers with a short line", async () => {
    const port = await serve("examples/counter.ts", ["--handshake", "none"]);
    const client = await clients.open(port);
    client.write(`help ${"n".repeat(60 * 1024)}\r\nping\r\n`);
    const [reply, pong] = await client.lines(2);
    assert.equal(pong, "+PONG");
    assert.match(reply!, /^-ERR /);
    assert.ok(reply!.length < 300, `echoed ${reply!.length} characters`);
  });
});

describe("a careless handler's stray faults", () => {
  it("a rejection nobody awaits is logged with its connection and command; the server goes on", async () => {
    const server = children.start("test/robustness/fixtures/careless-app.ts");
    const port = await server.port();
    const client = await clients.open(port);
    client.write("stray\r\n");
    assert.deepEqual(await client.lines(1), ["+OK"]);
    const line = await server.waitFor(
      () => server.logs.find((entry) => (entry.level as number) >= 50 && JSON.stringify(entry).includes("stray rejection")),
      "the unhandled rejection's log line",
    );
    assert.equal(line.command, "stray", JSON.stringify(line));
    assert.equal(typeof line.connection, "string", JSON.stringify(line));
    client.write("ping\r\n");
    assert.deepEqual(await client.lines(1), ["+PONG"]);
    assert.ok(server.running);
  });

  it("a timer that throws is logged, in-flight replies are delivered, then the process exits non-zero", async () => {
    const server = children.start("test/robustness/fixtures/careless-app.ts");
    const port = await server.port();
    const waiting = await clients.open(port);
    waiting.write("slow 600\r\n");
    await server.waitForStderr("slow started");
    const careless = await clients.open(port);
    careless.write("bomb\r\n");
    assert.deepEqual(await waiting.lines(1, 5000), ["slow done"]);
    const exit = await server.exit(10_000);
    assert.notEqual(exit.code, 0);
    const line = server.logs.find((entry) => (entry.level as number) >= 50 && JSON.stringify(entry).includes("timer bomb"));
    assert.ok(line, server.stdout);
    assert.equal(line.command, "bomb", JSON.stringify(line));
  });
});

describe("the open-file limit", () => {
  it("under ulimit -n 64: a warning at start, and clients past the limit get a refusal line instead of a silent reset", async () => {
    const server = children.start("examples/kv.ts", [], { openFileLimit: 64 });
    const port = await server.port();
    const lowered = server.logs.find((line) => String(line.msg).startsWith("maxConnections exceeds what the open-file limit allows"));
    assert.ok(lowered && typeof lowered.lowered === "number" && lowered.lowered < 64, server.stdout);
    const opened = [];
    for (let i = 0; i < 100; i++) opened.push(await clients.open(port));
    for (const client of opened) client.write("ping\r\n");
    let served = 0;
    let refused = 0;
    for (const client of opened) {
      // A client the kernel turned away silently closes here with nothing received.
      await client.until((received) => received.indexOf("\r\n") !== -1, "a reply line", 5000);
      const text = client.text;
      if (text.startsWith("+PONG")) served++;
      else if (text.startsWith("-ERR max number of clients reached")) refused++;
      else assert.fail(`neither served nor refused: ${JSON.stringify(text)}`);
    }
    assert.equal(served, lowered.lowered);
    assert.equal(refused, 100 - served);
    assert.equal(server.logs.filter((line) => line.msg === "max number of clients reached; refusing new connections").length, 1);
    clients.destroyAll();
    // Once the server has seen those clients go (a moment under load), new ones are served.
    let answer = "";
    for (let attempt = 0; attempt < 50 && answer !== "+PONG"; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const later = await clients.open(port);
      later.write("ping\r\n");
      [answer = ""] = await later.lines(1);
      later.destroy();
    }
    assert.equal(answer, "+PONG");
  });
});
