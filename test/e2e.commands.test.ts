/**
 * Commands end to end over real TCP: dispatch, argument binding, replies, errors, the
 * handler lifecycle, `app.command(...)`, and the text protocol's quoting and line endings.
 * Handlers are declared here with the standard (TC39) decorators.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, CommandError, CommandHandler, command, parameter, RetopyError } from "../src/index.js";
import { rawLength, type Running, type TextClient, useTestBed } from "./support.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const counters = new Map<string, number>();
/** `initialize` options each handler received, by command name. */
const initialized = new Map<string, unknown>();

const hex = (raw: string): number => {
  if (!/^[0-9a-f]+$/i.test(raw)) throw new Error(`'${raw}' is not hexadecimal`);
  return parseInt(raw, 16);
};

class Basic extends CommandHandler {
  count = 0;

  override initialize(options: Readonly<Record<string, unknown>>): void {
    initialized.set(this.command.name, options);
  }

  @parameter({ name: "key" })
  increment(): number {
    const key = this.getArgument("key");
    const value = (counters.get(key) ?? 0) + 1;
    counters.set(key, value);
    return value;
  }

  @parameter()
  ping(): string {
    return "+PONG";
  }

  @parameter("a")
  @parameter("b")
  pair(): string {
    return `${this.getArgument("a")}|${this.getArgument("b")}`;
  }

  @parameter({ name: "n", type: "int" })
  @parameter({ name: "f", type: "float" })
  @parameter({ name: "b", type: "boolean" })
  @parameter({ name: "h", type: hex })
  types(): string {
    return JSON.stringify([
      this.getArgument<number>("n"),
      this.getArgument<number>("f"),
      this.getArgument<boolean>("b"),
      this.getArgument<number>("h"),
    ]);
  }

  @parameter({ name: "word" })
  @parameter({ name: "times", type: "int", default: 2 })
  @parameter({ name: "sep", default: " " })
  repeat(): string {
    return Array.from({ length: this.getArgument<number>("times") }, () => this.getArgument("word")).join(this.getArgument("sep"));
  }

  @parameter({ name: "start", type: "int", default: 0 })
  @parameter({ name: "flag", type: "boolean", default: false })
  falsy(): string {
    return JSON.stringify([this.getArgument<number>("start"), this.getArgument<boolean>("flag")]);
  }

  @parameter({ name: "first" })
  @parameter({ name: "rest", variadic: true })
  collect(): string {
    return JSON.stringify({ first: this.getArgument("first"), one: this.getArgument("rest"), all: this.getArguments("rest") });
  }

  @parameter({ name: "n", type: "int", variadic: true })
  sum(): number {
    return this.getArguments<number>("n").reduce((a, b) => a + b, 0);
  }

  @parameter({ name: "args", variadic: true, default: ["(none)"] })
  echo(): string {
    return JSON.stringify(this.getArguments("args"));
  }

  @parameter({ name: "value", type: "raw" })
  @parameter({ name: "more", type: "raw", variadic: true, default: [] })
  rawtype(): string {
    const describe = (value: string | Buffer) => (typeof value === "string" ? `string:${value}` : `buffer:${value.toString("hex")}`);
    return [this.getArgument<string | Buffer>("value"), ...this.getArguments<string | Buffer>("more")].map(describe).join(",");
  }

  @parameter()
  undeclared(): string {
    return `${this.getArgument("nope", "fallback")}/${this.getArgument<number>("n", 7)}`;
  }

  @parameter()
  undeclared_required(): string {
    return this.getArgument("nope");
  }

  @parameter()
  lines(): void {
    this.write("one");
    this.write(2);
    this.write("three");
  }

  @parameter()
  returns_list(): unknown[] {
    return ["a", 1, true];
  }

  @parameter()
  nothing(): void {}

  @parameter()
  refuse(): void {
    this.write("partial");
    throw new CommandError("refused");
  }

  @parameter()
  coded(): void {
    throw new CommandError("key holds the wrong kind of value", "WRONGTYPE");
  }

  @parameter()
  boom(): void {
    this.write("partial");
    throw new Error("secret detail");
  }

  @parameter()
  async aboom(): Promise<void> {
    await sleep(2);
    throw new Error("async secret");
  }

  @parameter({ name: "ms", type: "int" })
  @parameter({ name: "value" })
  async later(): Promise<string> {
    await new Promise<void>((resolve) => setTimeout(resolve, this.getArgument<number>("ms")));
    return this.getArgument("value");
  }

  @parameter()
  bump(): number {
    this.count++;
    return this.count;
  }

  /** Not decorated: a plain method is never a command. */
  helper(): string {
    return "should never be reachable";
  }
}

const lifecycle: string[] = [];

class Lifecycle extends CommandHandler {
  override initialize(options: Readonly<Record<string, unknown>>): void {
    lifecycle.push(`initialize:${JSON.stringify(options)}`);
  }

  override async prepare(): Promise<void> {
    lifecycle.push("prepare:start");
    await sleep(5);
    lifecycle.push("prepare:end");
    if (this.command.name === "lc_refused") throw new CommandError("not now");
  }

  override onFinish(): void {
    lifecycle.push(`onFinish:${this.command.name}`);
    if (this.command.name === "lc_finish_fails") throw new Error("cleanup failed");
  }

  @parameter()
  lc_ok(): string {
    lifecycle.push("method");
    return "done";
  }

  @parameter()
  lc_refused(): string {
    lifecycle.push("method");
    return "never";
  }

  @parameter()
  lc_finish_fails(): string {
    lifecycle.push("method");
    return "written but failed";
  }
}

const guarded: string[] = [];

class Guarded extends CommandHandler {
  override prepare(): void {
    if (this.getArgument("mode") === "deny") throw new CommandError("denied by prepare", "NOPERM");
  }

  @parameter("mode")
  guarded(): string {
    guarded.push(this.getArgument("mode"));
    return `ran ${this.getArgument("mode")}`;
  }
}

const finished: string[] = [];

class Cleanup extends CommandHandler {
  override onFinish(): void {
    finished.push(this.command.name);
  }

  @parameter()
  sync_fail(): void {
    throw new Error("sync failure");
  }

  @parameter()
  async async_fail(): Promise<void> {
    await sleep(1);
    throw new Error("async failure");
  }

  @parameter()
  sync_refuse(): void {
    throw new CommandError("sync refusal");
  }

  @parameter()
  async async_refuse(): Promise<void> {
    await sleep(1);
    throw new CommandError("async refusal");
  }
}

function buildApp(settings: { debug?: boolean } = {}): Application {
  const app = new Application([Basic, [Lifecycle, { x: 1 }], Guarded, Cleanup], settings);
  app.command("greet", { params: ["name"], help: "Greets." }, (h) => `hello ${h.getArgument("name")}`);
  app.command(
    "shout",
    { params: [{ name: "word" }, { name: "times", type: "int", default: 1 }] },
    function (this: CommandHandler) {
      return `${this.getArgument("word").toUpperCase()}!`.repeat(this.getArgument<number>("times"));
    },
  );
  return app;
}

describe("commands over TCP", () => {
  const bed = useTestBed();
  let running: Running;
  let debugRunning: Running;

  /** A client past the handshake: `ping` as first line is a command (auto handshake). */
  const open = async (port = running.port): Promise<TextClient> => {
    const client = await bed.open(port);
    assert.equal(await client.command("ping"), "+PONG");
    return client;
  };

  before(async () => {
    running = await bed.start(buildApp());
    debugRunning = await bed.start(buildApp({ debug: true }));
  });

  it("matches command names case-insensitively", async () => {
    const client = await open();
    assert.equal(await client.command("increment ci"), "1");
    assert.equal(await client.command("INCREMENT ci"), "2");
    assert.equal(await client.command("Increment ci"), "3");
    assert.equal(await client.command("PiNg"), "+PONG");
  });

  it("reports a missing argument by name, and refuses extra arguments", async () => {
    const client = await open();
    assert.equal(await client.command("pair x y"), "x|y");
    assert.equal(await client.command("pair x"), "-ERR wrong number of arguments for 'pair': missing argument 'b' (usage: pair a b)");
    assert.equal(await client.command("pair"), "-ERR wrong number of arguments for 'pair': missing argument 'a' (usage: pair a b)");
    assert.equal(await client.command("pair x y z"), "-ERR wrong number of arguments for 'pair': unexpected 'z' (usage: pair a b)");
    assert.equal(await client.command("ping extra"), "-ERR wrong number of arguments for 'ping': unexpected 'extra' (usage: ping)");
  });

  it("converts int, float, boolean and converter-function arguments", async () => {
    const client = await open();
    assert.equal(await client.command("types 42 2.5 yes ff"), "[42,2.5,true,255]");
    assert.equal(await client.command("types -7 1e3 OFF 0A"), "[-7,1000,false,10]");
    assert.equal(await client.command("types +3 .5 0 10"), "[3,0.5,false,16]");
  });

  it("names the argument whose conversion failed", async () => {
    const client = await open();
    assert.equal(await client.command("types x 1 true a"), "-ERR invalid value for argument 'n' of 'types': expected an integer, got 'x'");
    assert.equal(await client.command("types 1.5 1 true a"), "-ERR invalid value for argument 'n' of 'types': expected an integer, got '1.5'");
    assert.equal(
      await client.command("types 9007199254740993 1 true a"),
      "-ERR invalid value for argument 'n' of 'types': expected an integer, got '9007199254740993'",
    );
    assert.equal(await client.command("types 1 abc true a"), "-ERR invalid value for argument 'f' of 'types': expected a number, got 'abc'");
    assert.equal(
      await client.command("types 1 1 maybe a"),
      "-ERR invalid value for argument 'b' of 'types': expected a boolean (true/false), got 'maybe'",
    );
    assert.equal(await client.command("types 1 1 true zz"), "-ERR invalid value for argument 'h' of 'types': 'zz' is not hexadecimal");
    assert.equal(await client.command("sum 1 2 x"), "-ERR invalid value for argument 'n' of 'sum': expected an integer, got 'x'");
  });

  it("uses defaults for left-out optional arguments, falsy defaults included", async () => {
    const client = await open();
    assert.equal(await client.command("repeat hi"), "hi hi");
    assert.equal(await client.command("repeat hi 3"), "hi hi hi");
    assert.equal(await client.command("repeat hi 3 -"), "hi-hi-hi");
    assert.equal(await client.command("falsy"), "[0,false]");
    assert.equal(await client.command("falsy 5 true"), "[5,true]");
    assert.equal(await client.command("repeat hi 3 - extra"), "-ERR wrong number of arguments for 'repeat': unexpected 'extra' (usage: repeat word [times] [sep])");
  });

  it("gives a variadic parameter every remaining argument", async () => {
    const client = await open();
    assert.equal(await client.command("collect a b c d"), JSON.stringify({ first: "a", one: "b", all: ["b", "c", "d"] }));
    assert.equal(await client.command("collect a b"), JSON.stringify({ first: "a", one: "b", all: ["b"] }));
    assert.equal(await client.command("collect a"), "-ERR wrong number of arguments for 'collect': missing argument 'rest' (usage: collect first rest [rest ...])");
    assert.equal(await client.command("sum 1 2 3 4"), "10");
    assert.equal(await client.command("echo"), JSON.stringify(["(none)"]));
    assert.equal(await client.command("echo x y"), JSON.stringify(["x", "y"]));
  });

  it("a raw parameter is the argument as it arrived: text as a string, binary RESP bulks as a Buffer", async () => {
    const client = await open();
    assert.equal(await client.command("rawtype abc 'x y'"), "string:abc,string:x y");
    const resp = await bed.open(running.port);
    const long = "a".repeat(100);
    resp.write(Buffer.concat([Buffer.from(`*4\r\n$7\r\nrawtype\r\n$3\r\nabc\r\n$2\r\n`), Buffer.from([0xff, 0x00]), Buffer.from(`\r\n$100\r\n${long}\r\n`)]));
    const expected = `string:abc,buffer:ff00,buffer:${Buffer.from(long).toString("hex")}`;
    assert.equal(await rawLength(resp, `$${expected.length}\r\n${expected}\r\n`.length), `$${expected.length}\r\n${expected}\r\n`);
  });

  it("getArgument(name, default) returns the default for undeclared names, and errors without one", async () => {
    const client = await open();
    assert.equal(await client.command("undeclared"), "fallback/7");
    assert.equal(await client.command("undeclared_required"), "-ERR missing argument 'nope'");
  });

  it("writes returned values; each write() is one line; writing nothing replies +OK", async () => {
    const client = await open();
    client.write("increment ret\r\nlines\r\nreturns_list\r\nnothing\r\nping\r\n");
    assert.deepEqual(await client.readLines(9), ["1", "one", "2", "three", "a", "1", "true", "+OK", "+PONG"]);
  });

  it("a CommandError replies -ERR message and discards what was written before it", async () => {
    const client = await open();
    const before = client.raw.length;
    assert.equal(await client.command("refuse"), "-ERR refused");
    assert.equal(await client.command("ping"), "+PONG");
    assert.equal(client.raw.slice(before), "-ERR refused\r\n+PONG\r\n");
  });

  it("a CommandError with a code replies -CODE message", async () => {
    const client = await open();
    assert.equal(await client.command("coded"), "-WRONGTYPE key holds the wrong kind of value");
  });

  it("an unexpected Error replies -ERR Internal Server Error (no details), and the connection keeps working", async () => {
    const client = await open();
    const before = client.raw.length;
    client.write("boom\r\nping\r\naboom\r\nincrement afterboom\r\n");
    assert.deepEqual(await client.readLines(4), ["-ERR Internal Server Error", "+PONG", "-ERR Internal Server Error", "1"]);
    assert.ok(!client.raw.slice(before).includes("secret"), "no detail leaks");
    assert.ok(!client.raw.slice(before).includes("partial"), "earlier writes are discarded");
  });

  it("with debug: true the error message is included", async () => {
    const client = await open(debugRunning.port);
    assert.equal(await client.command("boom"), "-ERR Internal Server Error: secret detail");
    assert.equal(await client.command("aboom"), "-ERR Internal Server Error: async secret");
    assert.equal(await client.command("ping"), "+PONG");
  });

  it("runs async (setTimeout-based) commands, keeping replies in order", async () => {
    const client = await open();
    assert.equal(await client.command("later 20 value"), "value");
    client.write("later 30 first\r\nping\r\nlater 1 third\r\n");
    assert.deepEqual(await client.readLines(3), ["first", "+PONG", "third"]);
  });

  it("runs initialize → prepare (async) → method → onFinish, with initialize options", async () => {
    const client = await open();
    lifecycle.length = 0;
    assert.equal(await client.command("lc_ok"), "done");
    assert.deepEqual(lifecycle, ['initialize:{"x":1}', "prepare:start", "prepare:end", "method", "onFinish:lc_ok"]);
    // Handlers mounted without options get an empty object.
    await client.command("bump");
    assert.deepEqual(initialized.get("bump"), {});
  });

  it("an async prepare throwing a CommandError refuses the command", async () => {
    const client = await open();
    lifecycle.length = 0;
    assert.equal(await client.command("lc_refused"), "-ERR not now");
    assert.ok(!lifecycle.includes("method"), `method must not run: ${JSON.stringify(lifecycle)}`);
  });

  it("a sync prepare throwing a CommandError refuses the command", async () => {
    const client = await open();
    guarded.length = 0;
    assert.equal(await client.command("guarded allow"), "ran allow");
    assert.equal(await client.command("guarded deny"), "-NOPERM denied by prepare");
    assert.deepEqual(guarded, ["allow"]);
  });

  it("an onFinish that throws turns the reply into an error", async () => {
    const client = await open();
    lifecycle.length = 0;
    assert.equal(await client.command("lc_finish_fails"), "-ERR Internal Server Error");
    assert.deepEqual(lifecycle.slice(-2), ["method", "onFinish:lc_finish_fails"]);
    assert.equal(await client.command("ping"), "+PONG");
  });

  it("onFinish runs after a failed command, whether it failed synchronously or asynchronously", async () => {
    const client = await open();
    finished.length = 0;
    client.write("async_fail\r\nasync_refuse\r\nsync_fail\r\nsync_refuse\r\n");
    assert.deepEqual(await client.readLines(4), [
      "-ERR Internal Server Error",
      "-ERR async refusal",
      "-ERR Internal Server Error",
      "-ERR sync refusal",
    ]);
    // Cleanup must not depend on whether the command happened to be async.
    assert.deepEqual(finished, ["async_fail", "async_refuse", "sync_fail", "sync_refuse"]);
  });

  it("uses a fresh handler instance for every command", async () => {
    const client = await open();
    client.write("bump\r\nbump\r\nbump\r\n");
    assert.deepEqual(await client.readLines(3), ["1", "1", "1"]);
  });

  it("app.command(name, spec, fn) adds a command without decorators", async () => {
    const client = await open();
    assert.equal(await client.command("greet world"), "hello world");
    assert.equal(await client.command("GREET you"), "hello you");
    assert.equal(await client.command("greet"), "-ERR wrong number of arguments for 'greet': missing argument 'name' (usage: greet name)");
    assert.equal(await client.command("shout hey 2"), "HEY!HEY!");
    assert.equal(await client.command("shout hey"), "HEY!");
  });

  it("refuses the same command name twice, across classes and app.command", () => {
    class One extends CommandHandler {
      @parameter()
      dup(): string {
        return "one";
      }
    }
    class Two extends CommandHandler {
      @parameter()
      DUP(): string {
        return "two";
      }
    }
    const duplicateOf = (name: string) => (error: unknown): boolean => {
      assert.ok(error instanceof RetopyError, `expected a RetopyError, got ${String(error)}`);
      assert.equal(error.code, "RETOPY_DUPLICATE_COMMAND");
      assert.ok(error.message.includes(`'${name}'`), error.message);
      return true;
    };
    assert.throws(() => new Application([One, Two]), duplicateOf("dup"));
    assert.throws(() => new Application([One]).command("dup", {}, () => "three"), duplicateOf("dup"));
    // The same class with @command({ name }) colliding with another method.
    class Three extends CommandHandler {
      @parameter()
      first(): string {
        return "1";
      }
      @command({ name: "first" })
      second(): string {
        return "2";
      }
    }
    assert.throws(() => new Application([Three]), duplicateOf("first"));
  });

  it("never dispatches to members that are not commands", async () => {
    const client = await open();
    const names = [
      "constructor",
      "__proto__",
      "toString",
      "prepare",
      "write",
      "getArgument",
      "hasOwnProperty",
      "initialize",
      "onFinish",
      "helper",
      "valueOf",
      "count",
    ];
    client.write(names.map((n) => `${n} x\r\n`).join(""));
    assert.deepEqual(
      await client.readLines(names.length),
      names.map((n) => `-ERR unknown command '${n}'`),
    );
    assert.equal(await client.command("ping"), "+PONG");
  });

  it("splits quoted arguments like redis-cli", async () => {
    const client = await open();
    assert.equal(await client.command('pair q "a b"'), "q|a b");
    assert.equal(await client.command("pair 'c d' \"e\\\"f\""), 'c d|e"f');
    assert.equal(await client.command('pair "\\x41\\x42" "\\xe2\\x82\\xac"'), "AB|€");
    assert.equal(await client.command('pair "" x'), "|x");
  });

  it("an unbalanced quote is a protocol error, and the next line still works", async () => {
    const client = await open();
    client.write('pair "a b\r\nping\r\n');
    assert.deepEqual(await client.readLines(2), ["-ERR Protocol error: unbalanced quotes", "+PONG"]);
    assert.equal(await client.command("pair 'x"), "-ERR Protocol error: unbalanced quotes");
    assert.equal(await client.command("pair x y"), "x|y");
  });

  it("ignores empty and blank lines", async () => {
    const client = await open();
    const before = client.raw.length;
    client.write("\r\n\r\n   \r\n\t\r\n\nping\r\n\r\n");
    assert.equal(await client.readLine(), "+PONG");
    await sleep(20);
    assert.equal(client.raw.slice(before), "+PONG\r\n");
  });

  it("accepts LF-only line endings", async () => {
    const client = await bed.open(running.port);
    client.write("ping\nincrement lf\npair a b\n");
    assert.deepEqual(await client.readLines(3), ["+PONG", "1", "a|b"]);
    assert.equal(client.raw, "+PONG\r\n1\r\na|b\r\n");
  });
});
