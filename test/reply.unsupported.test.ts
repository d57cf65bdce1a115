/**
 * Reply values no protocol can encode (a function, a class instance, a Date, a symbol, ...),
 * at any depth, over real sockets in RESP2, RESP3 and text mode: the client gets
 * `-ERR Internal Server Error` (the detail with `debug: true`), never the value's String()
 * (a function's source, `[object Object]`); the log names the command; nothing half-written
 * is left, so the next command on the connection gets its own reply.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { pino } from "pino";
import { Application, checkReplyValue, CommandHandler, command, parameter, type ReplyValue, Status, status, UnsupportedReplyError, verbatim } from "../src/index.js";
import { ReplyOutput } from "../src/protocol/reply-output.js";
import { resp2ReplyEncoder, resp3ReplyEncoder } from "../src/protocol/resp-reply.js";
import { textReplyEncoder } from "../src/protocol/text-reply.js";
import { connectRedis } from "./redis-support.js";
import { useTestBed } from "./support.js";
import { RawClient, renderReply, resp } from "./wire.js";

/** Text that must never reach a client: it is in a function's source or a toString. */
const MARKER = "SECRET_SOURCE_MARKER";

class Opaque {
  toString(): string {
    return `${MARKER} from toString`;
  }
}

/** Every kind of value outside the supported set, by name. */
const KINDS: Record<string, () => unknown> = {
  function: () =>
    function secret(): string {
      return MARKER;
    },
  arrow: () => () => MARKER,
  asyncFunction: () => async () => MARKER,
  class: () => Opaque,
  symbol: () => Symbol(MARKER),
  instance: () => new Opaque(),
  date: () => new Date(0),
  regexp: () => new RegExp(MARKER),
  promise: () => Promise.resolve(MARKER),
  int16array: () => new Int16Array([1, 2]),
  arraybuffer: () => new ArrayBuffer(4),
  dataview: () => new DataView(new ArrayBuffer(2)),
  weakmap: () => new WeakMap(),
  boxedString: () => new String(MARKER),
  customProto: () => Object.create({ toString: () => MARKER }) as object,
};

/** Where the bad value sits in the reply. */
const SHAPES: Record<string, (bad: unknown) => unknown> = {
  top: (bad) => bad,
  inArray: (bad) => ["ok", 1, bad],
  inSet: (bad) => new Set(["ok", bad]),
  mapValue: (bad) => new Map<unknown, unknown>([["a", 1], ["b", bad]]),
  mapKey: (bad) => new Map<unknown, unknown>([[bad, 1]]),
  objectValue: (bad) => ({ a: "ok", b: bad }),
  deep: (bad) => [{ a: new Map([["k", new Set([["x", { y: [bad] }]])]]) }],
  afterVerbatim: (bad) => [verbatim("line one\nline two"), status("OK"), bad],
};

class Replies extends CommandHandler {
  @parameter({ name: "kind" })
  @parameter({ name: "shape" })
  @command()
  bad(): unknown {
    return SHAPES[this.getArgument("shape")]!(KINDS[this.getArgument("kind")]!());
  }

  @parameter({ name: "kind" })
  @command({ help: "Writes a good value, then a bad one." })
  badwrite(): void {
    this.write("first");
    this.write(KINDS[this.getArgument("kind")]!() as ReplyValue);
  }

  @parameter({ name: "kind" })
  @command()
  badpublish(): number | Promise<number> {
    return this.server.pubsub.publish("news", [KINDS[this.getArgument("kind")]!() as ReplyValue]);
  }

  @parameter({ name: "kind" })
  @command({ help: "Pushes a bad value to its own connection (a push frame that fails halfway)." })
  badpush(): string {
    this.connection.push("note", "first", KINDS[this.getArgument("kind")]!() as ReplyValue);
    return "not reached";
  }

  @command()
  cycle(): unknown {
    const list: unknown[] = ["x"];
    list.push(list);
    return list;
  }

  @parameter({ name: "tag" })
  @command()
  ok(): string {
    return `ok ${this.getArgument("tag")}`;
  }
}

function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "info" }, destination), lines };
}

/** Every (kind, shape) pair as the arguments of `bad`. */
const CASES = Object.keys(KINDS).flatMap((kind) => Object.keys(SHAPES).map((shape) => [kind, shape] as const));
const INTERNAL = "-ERR Internal Server Error";

describe("unsupported reply values", () => {
  const bed = useTestBed();

  it("each encoder throws UnsupportedReplyError for every kind in every shape; the message names the kind, never its text", () => {
    for (const [kind, shape] of CASES) {
      const value = SHAPES[shape]!(KINDS[kind]!()) as ReplyValue;
      for (const [name, encoder] of [["resp2", resp2ReplyEncoder], ["resp3", resp3ReplyEncoder], ["text", textReplyEncoder]] as const) {
        assert.throws(() => encoder.encodeValue(value, new ReplyOutput()), (error: unknown) => {
          assert.ok(error instanceof UnsupportedReplyError, `${name} ${kind} ${shape}: ${String(error)}`);
          assert.ok(!error.message.includes(MARKER), error.message);
          assert.match(error.message, /^cannot reply with (a function|a symbol|an instance of \w+|an object of an unknown class)/);
          return true;
        });
      }
    }
  });

  for (const protocol of ["resp2", "resp3", "text"] as const) {
    it(`${protocol}: every bad reply is the internal error, the next command gets its own reply, the log names the command`, async () => {
      const { logger, lines } = capturingLogger();
      const port = await bed.serve(new Application([Replies]), { logger });
      const client = await RawClient.connect(port);
      const requests: Array<readonly string[]> = [];
      // A returned Promise is an async command's (the runner awaits it): only nested ones are bad.
      for (const [kind, shape] of CASES.filter(([k, sh]) => !(k === "promise" && sh === "top"))) requests.push(["bad", kind, shape], ["ok", `${kind}.${shape}`]);
      for (const kind of Object.keys(KINDS)) requests.push(["badwrite", kind], ["ok", `write.${kind}`]);
      requests.push(["cycle"], ["ok", "cycle"]);
      let replies: string[];
      if (protocol === "text") {
        client.write(requests.map((r) => `${r.join(" ")}\r\n`).join(""));
        await client.until((received) => received.toString().endsWith("ok cycle\r\n"), "every reply", 20_000);
        replies = client.text.split("\r\n").slice(0, -1);
      } else {
        if (protocol === "resp3") {
          client.write(resp("HELLO", "3"));
          await client.replies(1, 3);
          client.clear();
        }
        client.write(Buffer.concat(requests.map((r) => resp(...r))));
        replies = (await client.replies(requests.length, protocol === "resp3" ? 3 : 2, 20_000)).map(renderReply);
      }
      const expected = requests.map((r) => (r[0] === "ok" ? `ok ${r[1]}` : INTERNAL));
      assert.deepEqual(replies, expected);
      assert.ok(!client.text.includes(MARKER) && !client.text.includes("[object"), "no value's text reached the client");
      client.destroy();
      const failures = lines.filter((line) => line.msg === "command failed");
      assert.equal(failures.length, requests.length / 2);
      for (const line of failures) assert.ok(["bad", "badwrite", "cycle"].includes(line.command as string), JSON.stringify(line));
      const unsupported = failures.filter((line) => (line.err as { type?: string }).type === "UnsupportedReplyError");
      assert.equal(unsupported.length, requests.length / 2 - 1, "all but the cycle");
      assert.ok(!JSON.stringify(lines).includes(MARKER), "the log has no value's text either");
    });
  }

  it("with debug: true the reply names the kind (never the text) in RESP and text mode", async () => {
    const port = await bed.serve(new Application([Replies], { debug: true }));
    const raw = await RawClient.connect(port);
    raw.write(Buffer.concat([resp("bad", "function", "deep"), resp("bad", "instance", "top"), resp("ok", "after")]));
    assert.deepEqual((await raw.replies(3, 2)).map(renderReply), [
      "-ERR Internal Server Error: cannot reply with a function: replies are strings, numbers, bigints, booleans, null, Buffers, Errors, status(), verbatim(), arrays, Sets, Maps and plain objects",
      "-ERR Internal Server Error: cannot reply with an instance of Opaque: replies are strings, numbers, bigints, booleans, null, Buffers, Errors, status(), verbatim(), arrays, Sets, Maps and plain objects",
      "ok after",
    ]);
    raw.destroy();
    const text = await bed.open(port);
    assert.match(await text.command("bad date inSet"), /^-ERR Internal Server Error: cannot reply with an instance of Date: /);
    assert.equal(await text.command("ok next"), "ok next");
  });

  it("a Set nested in a map value is listed on its line in text mode, not `[object Set]`", async () => {
    class Nested extends CommandHandler {
      @command()
      nested(): ReplyValue {
        return new Map<string, ReplyValue>([["tags", new Set(["a", "b"])], ["list", [1, [2, 3]]]]);
      }
    }
    const text = await bed.open(await bed.serve(new Application([Nested])));
    text.send("nested");
    assert.deepEqual(await text.readLines(2), ["tags: a b", "list: 1 2 3"]);
  });

  for (const protocol of ["resp2", "resp3", "text"] as const) {
    it(`${protocol}: a push of a bad value fails its command, and no part of the push frame is sent`, async () => {
      const port = await bed.serve(new Application([Replies]));
      const client = await RawClient.connect(port);
      if (protocol === "text") {
        client.write("badpush instance\r\nok after\r\n");
        await client.until((received) => received.toString().endsWith("ok after\r\n"), "both replies");
        assert.equal(client.text, `${INTERNAL}\r\nok after\r\n`);
      } else {
        if (protocol === "resp3") {
          client.write(resp("HELLO", "3"));
          await client.replies(1, 3);
          client.clear();
        }
        client.write(Buffer.concat([resp("badpush", "function"), resp("ok", "after")]));
        await client.until((received) => received.toString().endsWith("ok after\r\n"), "both replies");
        assert.equal(client.text, `${INTERNAL}\r\n$8\r\nok after\r\n`);
      }
      client.destroy();
    });
  }

  it("publishing a bad message fails the publisher only: no subscriber gets a frame, every connection keeps working", async () => {
    const port = await bed.serve(new Application([Replies]));
    const subscriber = await RawClient.connect(port);
    subscriber.write(resp("SUBSCRIBE", "news"));
    await subscriber.replies(1, 2);
    subscriber.clear();
    const publisher = await RawClient.connect(port);
    publisher.write(Buffer.concat([resp("badpublish", "instance"), resp("PUBLISH", "news", "fine")]));
    assert.deepEqual((await publisher.replies(2, 2)).map(renderReply), [INTERNAL, ":1"]);
    const [message] = await subscriber.replies(1, 2);
    assert.equal(message?.t, "array");
    assert.equal(subscriber.text, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$4\r\nfine\r\n", "only the good message arrived");
    subscriber.destroy();
    publisher.destroy();
  });
});

/**
 * An Application built with another copy of retopy (the CLI serves one: `isApplication`)
 * replies with that copy's Status and Verbatim. Here the other copy is the build in dist/,
 * this suite's server the sources: its `quit` (+OK) and replies must still be encoded.
 */
describe("replies made with another copy of retopy", () => {
  const bed = useTestBed();
  // A specifier in a variable: TypeScript does not resolve it, so type checking needs no build.
  const DIST = "../dist/src/index.js";
  const otherCopy = async () => (await import(DIST)) as typeof import("../src/index.js");

  it("a Status and a Verbatim from dist/ are encoded by the sources' server, in RESP2, RESP3 and text", async () => {
    const other = await otherCopy();
    assert.notEqual(other.Status, Status, "two copies");
    const app = new Application()
      .command("st", {}, () => other.status("DONE"))
      .command("vb", {}, () => [other.verbatim("one\ntwo")])
      .command("deep", {}, () => new Map([["s", other.status("OK")]]));
    const port = await bed.serve(app);
    const raw = await RawClient.connect(port);
    raw.write(Buffer.concat([resp("st"), resp("vb"), resp("deep")]));
    await raw.until((received) => received.toString().endsWith("+OK\r\n"), "three replies");
    assert.equal(raw.text, "+DONE\r\n*1\r\n$7\r\none\ntwo\r\n*2\r\n$1\r\ns\r\n+OK\r\n");
    raw.write(Buffer.concat([resp("HELLO", "3"), resp("vb")]));
    await raw.until((received) => received.toString().endsWith("txt:one\ntwo\r\n"), "the verbatim in RESP3");
    raw.destroy();
    const text = await bed.open(port);
    assert.equal(await text.command("st"), "+DONE");
    text.send("vb");
    assert.deepEqual(await text.readLines(2), ["one", "two"]);
    assert.doesNotThrow(() => checkReplyValue([other.status("OK"), other.verbatim("v")]));
  });

  it("the quit of an Application built with dist/ replies +OK through the sources' server (ioredis quit)", async () => {
    const other = await otherCopy();
    const port = await bed.serve(new other.Application().command("x", {}, () => 1) as unknown as Application);
    const redis = await connectRedis(port);
    assert.equal(await redis.call("x"), 1);
    assert.equal(await redis.quit(), "OK");
  });
});
