/**
 * The `redisCommands` setting: which of the Redis compatibility commands (PING, ECHO, HELLO,
 * AUTH, CLIENT, SELECT, COMMAND, CONFIG, INFO) are mounted, and how it follows
 * `defaultHandlers` when not given. Checked over RESP on real sockets, and with ioredis.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Application, CommandHandler, command, RetopyError } from "../src/index.js";
import { connectRedis } from "./redis-support.js";
import { useTestBed } from "./support.js";
import { RawClient, renderReply, resp } from "./wire.js";

class Only extends CommandHandler {
  @command()
  mine(): string {
    return "mine";
  }
}

const PROBES = ["PING", "ECHO", "HELLO", "CLIENT", "SELECT", "COMMAND", "CONFIG", "INFO", "COMMANDS", "STATS", "QUIT"] as const;
const PROBE_ARGS: Record<(typeof PROBES)[number], string[]> = {
  PING: [],
  ECHO: ["e"],
  HELLO: ["2"],
  CLIENT: ["ID"],
  SELECT: ["0"],
  COMMAND: ["COUNT"],
  CONFIG: ["GET", "databases"],
  INFO: ["server"],
  COMMANDS: [],
  STATS: [],
  QUIT: [],
};

/** Which probe commands the application answers (anything but `unknown command`), over RESP2. */
async function mounted(port: number): Promise<string[]> {
  const client = await RawClient.connect(port);
  client.write(Buffer.concat(PROBES.map((name) => resp(name, ...PROBE_ARGS[name]))));
  const replies = await client.replies(PROBES.length, 2);
  client.destroy();
  return PROBES.filter((_, i) => !renderReply(replies[i]!).startsWith("-ERR unknown command"));
}

describe("redisCommands", () => {
  const bed = useTestBed();

  it("by default every compatibility command and built-in is mounted", async () => {
    assert.deepEqual(await mounted(await bed.serve(new Application([Only]))), [...PROBES]);
  });

  it("`defaultHandlers: false` alone leaves the application's commands and QUIT", async () => {
    assert.deepEqual(await mounted(await bed.serve(new Application([Only], { defaultHandlers: false }))), ["QUIT"]);
  });

  it("`defaultHandlers: false, redisCommands: true` keeps the Redis set without commands/help/stats", async () => {
    const app = new Application([Only], { defaultHandlers: false, redisCommands: true });
    assert.deepEqual(await mounted(await bed.serve(app)), ["PING", "ECHO", "HELLO", "CLIENT", "SELECT", "COMMAND", "CONFIG", "INFO", "QUIT"]);
  });

  it("`redisCommands: false` drops the Redis set and keeps the built-ins", async () => {
    const app = new Application([Only], { redisCommands: false });
    assert.deepEqual(await mounted(await bed.serve(app)), ["COMMANDS", "STATS", "QUIT"]);
  });

  it("a list mounts just those (any case), with or without the built-ins", async () => {
    const app = new Application([Only], { defaultHandlers: false, redisCommands: ["ping", "ECHO"] });
    assert.deepEqual(await mounted(await bed.serve(app)), ["PING", "ECHO", "QUIT"]);
    assert.deepEqual(await mounted(await bed.serve(new Application([Only], { redisCommands: ["hello"] }))), ["HELLO", "COMMANDS", "STATS", "QUIT"]);
  });

  it("ioredis works against `redisCommands: [\"ping\"]` with defaultHandlers off (it sends nothing else by default)", async () => {
    const redis = await connectRedis(await bed.serve(new Application([Only], { defaultHandlers: false, redisCommands: ["ping"] })), {
      enableReadyCheck: false,
    });
    assert.equal(await redis.ping(), "PONG");
    assert.equal(await redis.call("mine"), "mine");
    redis.disconnect();
  });

  it("an unknown name, or a value that is not a boolean or a list of names, is a RetopyError at startup", () => {
    assert.throws(() => new Application([Only], { redisCommands: ["ping", "flushall"] }), (error: unknown) => {
      assert.ok(error instanceof RetopyError);
      assert.equal(error.code, "RETOPY_INVALID_OPTION");
      assert.match(error.message, /redisCommands: 'flushall' is not one of the Redis compatibility commands \(ping, echo, hello,/);
      return true;
    });
    for (const bad of ["ping", 1, null, [1], { ping: true }]) {
      assert.throws(() => new Application([Only], { redisCommands: bad as never }), /redisCommands must be true, false or an array of command names/);
    }
  });

  it("builtinLogin may name only mounted commands: a Redis command left out of redisCommands is refused", () => {
    assert.throws(
      () => new Application([Only], { redisCommands: ["echo"], builtinLogin: { ping: true } }),
      /builtinLogin: 'ping' is not a built-in command of this application/,
    );
    assert.doesNotThrow(() => new Application([Only], { redisCommands: ["ping"], builtinLogin: { ping: true } }));
  });
});
