/**
 * Typed commands end to end over real TCP: `app.command(...)` with inferred `args`, and
 * `Command(...)` classes. Conversions, defaults, optional and variadic parameters, bad
 * input refused by name while the connection keeps serving, through a telnet-style text
 * client and through ioredis (RESP, binary arguments).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { Application, Command, CommandError, CommandHandler, RetopyError, status } from "../src/index.js";
import { connectRedis } from "./redis-support.js";
import { type TextClient, useTestBed } from "./support.js";

const hex = (raw: string): number => {
  if (!/^[0-9a-f]+$/i.test(raw)) throw new Error(`'${raw}' is not hexadecimal`);
  return Number.parseInt(raw, 16);
};

/** A store handed to a Command class through `initialize`, as `[Cls, { store }]` mounts it. */
const store = new Map<string, number>();

class Bump extends Command({
  name: "bump",
  help: "Adds by (default 1) to key.",
  params: ["key", { name: "by", type: "int", default: 1, help: "how much" }],
}) {
  #store!: Map<string, number>;

  override initialize(options: Readonly<Record<string, unknown>>): void {
    this.#store = options.store as Map<string, number>;
  }

  override prepare(): void {
    if (this.args.by === 0) throw new CommandError("by must not be 0");
  }

  run(): number {
    const { key, by } = this.args;
    const value = (this.#store.get(key) ?? 0) + by;
    this.#store.set(key, value);
    return value;
  }
}

class Average extends Command({ name: "avg", params: [{ name: "x", type: "float", variadic: true }] }) {
  async run(): Promise<string> {
    await new Promise((resolve) => setImmediate(resolve));
    const xs = this.arg("x");
    return (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2);
  }
}

class Secret extends Command({ name: "secret", authenticated: true, params: [{ name: "n", type: "int", optional: true }] }) {
  run(): string {
    return `${this.connection.user}:${this.args.n ?? "none"}`;
  }
}

function buildApp(): Application {
  const app = new Application([[Bump, { store }], Average, Secret], { authenticate: (user, password) => user === "u" && password === "p" });
  app.command(
    "conv",
    { params: [{ name: "i", type: "int" }, { name: "f", type: "float" }, { name: "b", type: "boolean" }, { name: "h", type: hex }] },
    (h) => JSON.stringify([h.args.i, h.args.f, h.args.b, h.args.h]),
  );
  app.command("opt", { params: ["key", { name: "label", optional: true }] }, (h) => `${h.args.key}:${h.args.label ?? "(none)"}`);
  app.command("repeat", { params: ["word", { name: "times", type: "int", default: 2 }] }, function () {
    return this.args.word.repeat(this.args.times);
  });
  app.command("sum", { params: [{ name: "n", type: "int", variadic: true }] }, (h) => h.args.n.reduce((a, b) => a + b, 0));
  app.command("tags", { params: [{ name: "tag", variadic: true, optional: true }] }, (h) => {
    // The seed's accessors agree with the typed ones on an empty optional variadic.
    assert.deepEqual(h.getArguments("tag"), h.args.tag);
    assert.equal(h.getArgument("tag", "fallback"), h.args.tag[0] ?? "fallback");
    return `${h.args.tag.length}:${h.args.tag.join(",")}`;
  });
  app.command("mutate", { params: [{ name: "tag", variadic: true, optional: true }] }, (h) => {
    h.args.tag.push("added"); // each command's own array, even when the client sent none
    return h.args.tag.join(",");
  });
  // The seed's getArgument on a variadic parameter whose default is an empty list.
  app.command("first", { params: [{ name: "xs", variadic: true, default: [] }] }, (h: CommandHandler) => h.getArgument("xs", "none"));
  app.command("len", { params: [{ name: "bytes", type: "buffer" }] }, (h) => h.args.bytes.length);
  app.command("keys", { params: ["__proto__", "constructor", { name: "toString", optional: true }] }, (h) =>
    JSON.stringify([Object.keys(h.args), h.args.__proto__, h.args.constructor, h.args.toString ?? null]),
  );
  // The same values through both accessors, and `args` built once.
  app.command("same", { params: ["a", { name: "n", type: "int" }] }, (h) => {
    assert.equal(h.args, h.args);
    return h.arg("a") === h.args.a && h.arg("n") === h.args.n ? status("SAME") : status("DIFFERENT");
  });
  // The seed's untyped style, unchanged, on the same application.
  app.command("seed", { params: ["key", { name: "n", type: "int" }] }, (h: CommandHandler) => `${h.getArgument("key")}=${h.getArgument<number>("n") + 1}`);
  return app;
}

describe("typed commands over TCP", () => {
  const bed = useTestBed();
  let port: number;
  let redis: Redis;

  /** A telnet-style client past the handshake: its first line is the header, which gets no reply. */
  const open = async (): Promise<TextClient> => {
    const client = await bed.open(port);
    client.write("typed-test header\r\n");
    return client;
  };

  before(async () => {
    port = await bed.serve(buildApp());
    redis = await connectRedis(port);
  });
  after(() => redis.disconnect());

  it("converts int, float, boolean and converter arguments (text)", async () => {
    const client = await open();
    assert.equal(await client.command("conv 42 2.5 yes ff"), "[42,2.5,true,255]");
    assert.equal(await client.command("conv -7 1e3 OFF 0A"), "[-7,1000,false,10]");
  });

  it("converts the same over RESP (ioredis)", async () => {
    assert.equal(await redis.call("conv", "42", "2.5", "yes", "ff"), "[42,2.5,true,255]");
    assert.equal(await redis.call("sum", "1", "2", "39"), 42);
    assert.equal(await redis.call("bump", "resp-key", "5"), 5);
    assert.equal(await redis.call("avg", "1", "2"), "1.50");
  });

  it("refuses bad input by argument name and keeps serving (text)", async () => {
    const client = await open();
    assert.equal(await client.command("conv x 2.5 yes ff"), "-ERR invalid value for argument 'i' of 'conv': expected an integer, got 'x'");
    assert.equal(await client.command("conv 1 nan yes ff"), "-ERR invalid value for argument 'f' of 'conv': expected a number, got 'nan'");
    assert.equal(await client.command("conv 1 2 maybe ff"), "-ERR invalid value for argument 'b' of 'conv': expected a boolean (true/false), got 'maybe'");
    assert.equal(await client.command("conv 1 2 no zz"), "-ERR invalid value for argument 'h' of 'conv': 'zz' is not hexadecimal");
    assert.equal(
      await client.command("conv 99999999999999999999 2 no ff"),
      "-ERR invalid value for argument 'i' of 'conv': expected an integer, got '99999999999999999999'",
    );
    assert.equal(await client.command("conv 1 2"), "-ERR wrong number of arguments for 'conv': missing argument 'b' (usage: conv i f b h)");
    assert.equal(await client.command("conv 1 2 yes ff extra"), "-ERR wrong number of arguments for 'conv': unexpected 'extra' (usage: conv i f b h)");
    assert.equal(await client.command("sum 1 two 3"), "-ERR invalid value for argument 'n' of 'sum': expected an integer, got 'two'");
    assert.equal(await client.command("sum"), "-ERR wrong number of arguments for 'sum': missing argument 'n' (usage: sum n [n ...])");
    assert.equal(await client.command("conv 1 2 yes ff"), "[1,2,true,255]");
  });

  it("refuses bad input over RESP with the same errors", async () => {
    await assert.rejects(redis.call("conv", "", "2", "yes", "ff"), /^ReplyError: ERR invalid value for argument 'i' of 'conv': expected an integer, got ''$/);
    await assert.rejects(redis.call("bump", "k", "1.5"), /ERR invalid value for argument 'by' of 'bump': expected an integer, got '1.5'/);
    await assert.rejects(redis.call("avg"), /ERR wrong number of arguments for 'avg': missing argument 'x' \(usage: avg x \[x \.\.\.\]\)/);
    assert.equal(await redis.call("sum", "5"), 5);
  });

  it("fills defaults and optional arguments when the client leaves them out", async () => {
    const client = await open();
    assert.equal(await client.command("repeat ab"), "abab");
    assert.equal(await client.command("repeat ab 3"), "ababab");
    assert.equal(await client.command("opt k"), "k:(none)");
    assert.equal(await client.command('opt k "a label"'), "k:a label");
    assert.equal(await client.command("tags"), "0:");
    assert.equal(await client.command("tags a b c"), "3:a,b,c");
    assert.equal(await client.command("mutate"), "added");
    assert.equal(await client.command("mutate"), "added");
    assert.equal(await client.command("mutate x"), "x,added");
    assert.equal(await client.command("first"), "none");
    assert.equal(await client.command("first a b"), "a");
    assert.equal(await client.command("bump text-key"), "1");
    assert.equal(await client.command("bump text-key 10"), "11");
    assert.equal(store.get("text-key"), 11);
  });

  it("runs a Command class's hooks, async run and declared options", async () => {
    const client = await open();
    assert.equal(await client.command("bump text-key 0"), "-ERR by must not be 0");
    assert.equal(await client.command("avg 1 2 4.5"), "2.50");
    assert.equal(await client.command("secret"), "-ERR Authorization required");
    assert.equal(await client.command("auth u p"), "+OK");
    assert.equal(await client.command("secret"), "u:none");
    assert.equal(await client.command("secret 7"), "u:7");
    assert.equal(await client.command("secret seven"), "-ERR invalid value for argument 'n' of 'secret': expected an integer, got 'seven'");
  });

  it("reads binary arguments as Buffers over RESP", async () => {
    assert.equal(await redis.call("len", Buffer.from([0xff, 0x00, 0xfe, 0x0d, 0x0a])), 5);
  });

  it("keeps names like __proto__ and constructor as plain keys of args", async () => {
    const client = await open();
    assert.equal(await client.command("keys p c"), '[["__proto__","constructor","toString"],"p","c",null]');
    assert.equal(await client.command("keys p c t"), '[["__proto__","constructor","toString"],"p","c","t"]');
  });

  it("gives the same values through args, arg() and the seed's getArgument", async () => {
    const client = await open();
    assert.equal(await client.command("same x 5"), "+SAME");
    assert.equal(await client.command("seed x 41"), "x=42");
  });
});

describe("typed commands at mount time", () => {
  it("checks a Command class's declaration when it is mounted, naming the command", () => {
    class Bad extends Command({ name: "bad", params: [{ name: "rest", variadic: true }, "after"] }) {
      run(): void {}
    }
    assert.throws(() => new Application([Bad]), (error: unknown) => {
      assert.ok(error instanceof RetopyError);
      assert.equal(error.code, "RETOPY_INVALID_COMMAND");
      assert.match(error.message, /'bad': only the last parameter can be variadic/);
      return true;
    });
  });

  it("refuses a Command class without run() (plain JavaScript gets past the compiler)", () => {
    const Base = Command({ name: "norun" }) as unknown as new (...args: never[]) => CommandHandler;
    class NoRun extends Base {}
    assert.throws(() => new Application([NoRun as never]), /NoRun needs a run\(\) method/);
  });

  it("refuses a Command class and app.command of the same name", () => {
    class Dup extends Command({ name: "dup" }) {
      run(): string {
        return "class";
      }
    }
    assert.throws(() => new Application([Dup]).command("DUP", {}, () => "fn"), /command 'dup' is defined twice/);
  });

  it("mounts a subclass of a Command class under the declared name, with its own run()", async () => {
    class Greet extends Command({ name: "greet", params: ["who"] }) {
      run(): string {
        return `hello ${this.args.who}`;
      }
    }
    class Shout extends Greet {
      override run(): string {
        return super.run().toUpperCase();
      }
    }
    assert.equal((await new Application([Shout]).inject("greet you")).value, "HELLO YOU");
  });
});
