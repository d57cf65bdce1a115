/**
 * The built-in commands over real TCP: `commands`, `help`, `stats` and `quit`, the
 * `defaultHandlers` switch, and a user command taking a built-in's name.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, CommandError, CommandHandler, command, parameter } from "../src/index.js";
import { eventually, type TextClient, useTestBed } from "./support.js";

class Store extends CommandHandler {
  static readonly data = new Map<string, number>();

  @parameter({ name: "key", help: "the counter's name" })
  @command({ help: "Increments the number stored at key by one." })
  increment(): number {
    const key = this.getArgument("key");
    const value = (Store.data.get(key) ?? 0) + 1;
    Store.data.set(key, value);
    return value;
  }

  @parameter({ name: "key", help: "the counter's name" })
  @command({ help: "Gets the value of key." })
  get(): number {
    const value = Store.data.get(this.getArgument("key"));
    if (value === undefined) throw new CommandError(`${this.getArgument("key")} Not found`);
    return value;
  }

  @parameter({ name: "key", help: "the counter's name" })
  @parameter({ name: "value", type: "int", help: "an integer" })
  @command({ help: "Sets key to hold the integer value.\nOverwrites any old value." })
  set(): number {
    Store.data.set(this.getArgument("key"), this.getArgument<number>("value"));
    return this.getArgument<number>("value");
  }

  @parameter({ name: "key", help: "counters to remove", variadic: true })
  @command({ help: "Removes the specified keys." })
  rem(): string {
    for (const key of this.getArguments("key")) Store.data.delete(key);
    return "+OK";
  }

  @parameter({ name: "x", help: "optional word", default: "none" })
  @command({ help: "Echoes x." })
  opt(): string {
    return this.getArgument("x");
  }

  @parameter()
  ping(): string {
    return "+PONG";
  }
}

const USER_USAGES = ["increment key", "get key", "set key value", "rem key [key ...]", "opt [x]", "ping"];
/**
 * The Redis compatibility set (src/compat/), mounted by default right after `quit`. Its
 * `ping [message ...]` is missing: these applications define their own `ping`, which wins.
 */
const COMPAT_USAGES = [
  "echo [message ...]",
  "hello [protover] [options ...]",
  "auth credentials [credentials ...]",
  "client subcommand [args ...]",
  "select index",
  "command [subcommand] [args ...]",
  "config subcommand [args ...]",
  "info [section ...]",
];
const COMPAT_NAMES = COMPAT_USAGES.map((usage) => usage.split(" ")[0]!);
/** The pub/sub built-ins (src/builtins.ts), mounted after `stats`. */
const PUBSUB_USAGES = ["subscribe channel [channel ...]", "psubscribe pattern [pattern ...]", "unsubscribe [channel ...]", "punsubscribe [pattern ...]", "publish channel message", "pubsub subcommand [args ...]"];
const PUBSUB_NAMES = PUBSUB_USAGES.map((usage) => usage.split(" ")[0]!);
const BUILTIN_USAGES = ["quit", ...COMPAT_USAGES, "commands", "help [command]", "stats", ...PUBSUB_USAGES];
const ALL_NAMES = ["increment", "get", "set", "rem", "opt", "ping", "quit", ...COMPAT_NAMES, "commands", "help", "stats", ...PUBSUB_NAMES];

/** Reads lines until (and without) `sentinel`; the sentinel is the reply to a `ping` sent after. */
async function readUntil(client: TextClient, sentinel: string, timeoutMs = 3000): Promise<string[]> {
  const lines: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = await client.readLine(Math.max(1, deadline - Date.now()));
    if (line === sentinel) return lines;
    lines.push(line);
  }
}

/** Sends `line`, then `ping`, and returns every line of `line`'s reply. */
async function multiline(client: TextClient, line: string): Promise<string[]> {
  client.write(`${line}\r\nping\r\n`);
  return readUntil(client, "+PONG");
}

function parseStats(lines: readonly string[]): Map<string, number> {
  const stats = new Map<string, number>();
  for (const line of lines) {
    const match = /^([\w.:-]+): (\d+)$/.exec(line);
    assert.ok(match, `stats line '${line}' is not '<name>: <number>'`);
    assert.ok(!stats.has(match[1]!), `stats line '${match[1]}' repeated`);
    stats.set(match[1]!, Number(match[2]));
  }
  return stats;
}

describe("built-in commands", () => {
  const bed = useTestBed();
  const { serve, open } = bed;

  it("`commands` lists every command with its parameters: the user's first, then the built-ins", async () => {
    const client = await open(await serve(new Application([Store])));
    assert.deepEqual(await multiline(client, "commands"), [...USER_USAGES, ...BUILTIN_USAGES]);
  });

  it("`help set` shows usage, help text and each argument's help", async () => {
    const client = await open(await serve(new Application([Store])));
    assert.deepEqual(await multiline(client, "help set"), [
      "Usage: set key value",
      "Sets key to hold the integer value.",
      "Overwrites any old value.",
      "Arguments description:",
      "  key   the counter's name",
      "  value an integer",
    ]);
    // Matched case-insensitively, like dispatch.
    assert.equal((await multiline(client, "help SET"))[0], "Usage: set key value");
  });

  it("`help increment` describes increment, not help itself (the original's bug)", async () => {
    const client = await open(await serve(new Application([Store])));
    assert.deepEqual(await multiline(client, "help increment"), [
      "Usage: increment key",
      "Increments the number stored at key by one.",
      "Arguments description:",
      "  key the counter's name",
    ]);
    assert.deepEqual(await multiline(client, "help rem"), [
      "Usage: rem key [key ...]",
      "Removes the specified keys.",
      "Arguments description:",
      "  key counters to remove",
    ]);
    // A command without parameters has no arguments section.
    assert.deepEqual(await multiline(client, "help quit"), ["Usage: quit", "Closes the connection after replying +OK."]);
  });

  it("`help` without an argument lists every command with the first line of its help", async () => {
    const client = await open(await serve(new Application([Store])));
    const lines = await multiline(client, "help");
    assert.equal(lines.length, ALL_NAMES.length);
    assert.equal(lines[0], "increment key - Increments the number stored at key by one.");
    assert.equal(lines[2], "set key value - Sets key to hold the integer value.");
    assert.equal(lines[5], "ping");
    assert.ok(lines[7 + COMPAT_NAMES.length]!.startsWith("commands - "));
  });

  it("`help nosuch` is an error naming the command", async () => {
    const client = await open(await serve(new Application([Store])));
    assert.equal(await client.command("help nosuch"), "-ERR unknown command 'nosuch'");
    assert.equal(await client.command("ping"), "+PONG");
  });

  it("`stats` counts every mounted command from 0, failed runs included, unknown commands excluded", async () => {
    const port = await serve(new Application([Store]));
    const a = await open(port);
    const b = await open(port);

    // b's first `stats`: every mounted command is listed, all at 0; b itself is connection 2.
    let stats = parseStats(await multiline(b, "stats"));
    // `ping` was b's sentinel after the first stats, so it is not counted yet at this point.
    assert.deepEqual([...stats.keys()], [
      ...ALL_NAMES,
      "connections_current",
      "connections_total",
      "connections_rejected",
      "commands_total",
      "errors_total",
      "uptime_seconds",
    ]);
    for (const name of ALL_NAMES) assert.equal(stats.get(name), 0, `${name} starts at 0`);
    assert.equal(stats.get("commands_total"), 0);
    assert.equal(stats.get("errors_total"), 0);
    const uptime = stats.get("uptime_seconds")!;
    assert.ok(uptime >= 0 && uptime <= 5, `uptime_seconds ${uptime}`);

    assert.equal(await a.command("increment k"), "1");
    assert.equal(await a.command("get nosuch"), "-ERR nosuch Not found"); // a failed run
    assert.equal(await a.command("set k notanint"), "-ERR invalid value for argument 'value' of 'set': expected an integer, got 'notanint'");
    assert.equal(await a.command("increment"), "-ERR wrong number of arguments for 'increment': missing argument 'key' (usage: increment key)");
    assert.equal(await a.command("nosuch 1 2"), "-ERR unknown command 'nosuch'"); // not a command: not counted per command

    stats = parseStats(await multiline(b, "stats"));
    assert.equal(stats.get("increment"), 2);
    assert.equal(stats.get("get"), 1);
    assert.equal(stats.get("set"), 1);
    assert.equal(stats.get("stats"), 1, "the earlier stats run");
    assert.equal(stats.get("ping"), 1, "the earlier sentinel");
    assert.equal(stats.get("rem"), 0);
    assert.equal(stats.has("nosuch"), false);
    assert.equal(stats.get("commands_total"), 6); // stats + ping + increment×2 + get + set
    assert.equal(stats.get("errors_total"), 4); // get, set, increment (missing arg), unknown
    assert.equal(stats.get("connections_current"), 2);
    assert.equal(stats.get("connections_total"), 2);

    // A closing connection leaves connections_current but not connections_total.
    a.close();
    let current = -1;
    let total = -1;
    await eventually(
      () => {
        const s = bed.servers[bed.servers.length - 1]!.server.stats();
        current = s.connectionsCurrent;
        total = s.connectionsTotal;
        return current === 1;
      },
      2000,
      "connections_current to drop to 1",
    );
    assert.equal(total, 2);
    stats = parseStats(await multiline(b, "stats"));
    assert.equal(stats.get("connections_current"), 1);
    assert.equal(stats.get("connections_total"), 2);
    assert.equal(stats.get("stats"), 2);
  });

  it("`quit` replies +OK, then the server closes; commands pipelined after it get no reply", async () => {
    const port = await serve(new Application([Store]));
    const client = await open(port);
    assert.equal(await client.command("ping"), "+PONG");
    client.write("quit\r\n");
    assert.equal(await client.readLine(), "+OK");
    await client.closed();
    assert.equal(client.raw, "+PONG\r\n+OK\r\n");

    const pipelined = await open(port);
    pipelined.write("increment pipelined\r\nquit\r\nincrement pipelined\r\nping\r\n");
    await pipelined.closed();
    assert.equal(pipelined.raw, "1\r\n+OK\r\n");
    // The commands after quit were not run either.
    const check = await open(port);
    assert.equal(await check.command("get pipelined"), "1");
  });

  it("`defaultHandlers: false` drops commands/help/stats but keeps quit", async () => {
    const client = await open(await serve(new Application([Store], { defaultHandlers: false })));
    // First a known command: in the default `auto` handshake an unknown first line is the header.
    assert.equal(await client.command("ping"), "+PONG");
    assert.equal(await client.command("commands"), "-ERR unknown command 'commands'");
    assert.equal(await client.command("help"), "-ERR unknown command 'help'");
    assert.equal(await client.command("stats"), "-ERR unknown command 'stats'");
    assert.equal(await client.command("ping"), "+PONG");
    assert.equal(await client.command("quit"), "+OK");
    await client.closed();
  });

  it("a user command named `help` overrides the built-in", async () => {
    class MyHelp extends CommandHandler {
      @parameter({ name: "topic", default: "all" })
      @command({ help: "My own help." })
      help(): string {
        return `my help for ${this.getArgument("topic")}`;
      }

      @parameter()
      ping(): string {
        return "+PONG";
      }
    }
    const client = await open(await serve(new Application([MyHelp])));
    assert.equal(await client.command("help"), "my help for all");
    assert.equal(await client.command("help set"), "my help for set");
    assert.equal(await client.command("HELP x"), "my help for x");
    // Listed once, as the user's command, among the user's commands.
    assert.deepEqual(await multiline(client, "commands"), ["help [topic]", "ping", "quit", ...COMPAT_USAGES, "commands", "stats", ...PUBSUB_USAGES]);
  });
});
