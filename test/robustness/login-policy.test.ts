/**
 * A login means what it says, for the built-ins too: with logins configured, a stranger can
 * neither read what logged-in users publish nor list their channels, INFO tells a stranger
 * nothing about the process, a stranger's subscription does not exempt it from idleTimeout,
 * and `requireLogin` (Redis's requirepass) lets only the login path run before a login.
 * Real sockets on 127.0.0.1, raw and with ioredis and node-redis.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createClient } from "redis";
import {
  Application,
  CommandError,
  CommandHandler,
  command,
  parameter,
  passwordAuthenticator,
  RetopyError,
  status,
} from "../../src/index.js";
import { connectRedis } from "../redis-support.js";
import { useTestBed } from "../support.js";
import { RawClients, renderReply, resp, sleep } from "../wire.js";

class Shop extends CommandHandler {
  @parameter({ name: "word" })
  echo(): string {
    return this.getArgument("word");
  }

  @parameter({ name: "user" })
  @parameter({ name: "password" })
  @command({ login: true })
  async signin(): Promise<unknown> {
    if (!(await this.attemptLogin(this.getArgument("user"), this.getArgument("password")))) throw new CommandError("no");
    return status("OK");
  }
}

const authenticate = passwordAuthenticator({ alice: "s3cret" });
const clients = new RawClients();
after(() => clients.destroyAll());

async function loggedIn(port: number) {
  const client = await clients.open(port);
  client.write(resp("AUTH", "alice", "s3cret"));
  assert.deepEqual((await client.nextReplies(1, 2)).map(renderReply), ["+OK"]);
  return client;
}

describe("built-ins with logins configured (the defaults)", () => {
  const bed = useTestBed();
  const app = new Application([Shop], { authenticate, authFailureDelay: 0 });

  it("a stranger cannot SUBSCRIBE, PUBLISH or list channels; after a login it can", async () => {
    const port = await bed.serve(app);
    const member = await loggedIn(port);
    member.write(resp("SUBSCRIBE", "orders"));
    await member.nextReplies(1, 2);

    const stranger = await clients.open(port);
    stranger.write(Buffer.concat([resp("SUBSCRIBE", "orders"), resp("PUBSUB", "CHANNELS"), resp("PUBLISH", "orders", "forged"), resp("echo", "still here")]));
    assert.deepEqual((await stranger.nextReplies(4, 2)).map(renderReply), [
      "-NOAUTH Authentication required.",
      "-NOAUTH Authentication required.",
      "-NOAUTH Authentication required.",
      "still here",
    ]);
    const text = await clients.open(port);
    text.write("subscribe orders\r\necho after\r\n");
    assert.deepEqual(await text.lines(2), ["-ERR Authorization required", "after"]);

    const publisher = await loggedIn(port);
    publisher.write(resp("PUBLISH", "orders", "one"));
    assert.deepEqual((await publisher.nextReplies(1, 2)).map(renderReply), [":1"]);
    const [message] = await member.nextReplies(1, 2);
    assert.ok(message?.t === "array");
    assert.deepEqual(message.v.map(renderReply), ["message", "orders", "one"]);
    await sleep(50);
    assert.equal(stranger.buffered, "", "the stranger received nothing");
  });

  it("INFO shows the process (os, Node, pid, memory) only after a login", async () => {
    const port = await bed.serve(app);
    const stranger = await clients.open(port);
    stranger.write(resp("INFO"));
    const [anonymous] = (await stranger.nextReplies(1, 2)).map(renderReply);
    assert.match(anonymous!, /redis_version:/);
    for (const field of ["process_id", "node_version", "os:", "used_memory"]) assert.ok(!anonymous!.includes(field), `${field} shown to a stranger`);
    const member = await loggedIn(port);
    member.write(resp("INFO"));
    const [full] = (await member.nextReplies(1, 2)).map(renderReply);
    assert.match(full!, new RegExp(`process_id:${process.pid}`));
    assert.match(full!, /node_version:/);
  });

  it("processInfo: 'everyone' and builtinLogin change the defaults; unknown names are refused at startup", async () => {
    const open = new Application([Shop], { authenticate, processInfo: "everyone", builtinLogin: { subscribe: false, stats: true } });
    const port = await bed.serve(open);
    const stranger = await clients.open(port);
    stranger.write(Buffer.concat([resp("INFO", "server"), resp("SUBSCRIBE", "news"), resp("STATS")]));
    const [info, subscribed, stats] = (await stranger.nextReplies(3, 2)).map(renderReply);
    assert.match(info!, /process_id:/);
    assert.equal(subscribed, "(array)");
    assert.equal(stats, "-NOAUTH Authentication required.");
    assert.throws(() => new Application([Shop], { authenticate, builtinLogin: { subscrib: true } }), (e) => e instanceof RetopyError && e.code === "RETOPY_INVALID_OPTION");
    assert.throws(() => new Application([Shop], { requireLogin: true }), (e) => e instanceof RetopyError && /authenticate/.test(e.message));
  });

  it("without logins configured, pub/sub and INFO stay open (nobody could log in)", async () => {
    const port = await bed.serve(new Application([Shop]));
    const client = await clients.open(port);
    client.write(Buffer.concat([resp("SUBSCRIBE", "news"), resp("PUBLISH", "news", "hi")]));
    const replies = await client.nextReplies(3, 2);
    assert.equal(replies[0]?.t, "array");
    assert.equal(replies[1]?.t, "array"); // the message, pushed before PUBLISH's reply
    assert.deepEqual(renderReply(replies[2]!), ":1");
  });
});

describe("a stranger's subscription does not exempt it from idleTimeout", () => {
  const bed = useTestBed();

  it("an anonymous subscriber is closed when idle; a logged-in one stays", async () => {
    const app = new Application([Shop], { authenticate, authFailureDelay: 0, builtinLogin: { subscribe: false } });
    const port = await bed.serve(app, { idleTimeout: 200 });
    const stranger = await clients.open(port);
    stranger.write(resp("SUBSCRIBE", "news"));
    await stranger.nextReplies(1, 2);
    const member = await loggedIn(port);
    member.write(resp("SUBSCRIBE", "news"));
    await member.nextReplies(1, 2);
    await stranger.closed(3000);
    await sleep(400);
    assert.equal(member.isClosed, false);
  });
});

describe("requireLogin: only the login path runs before a login", () => {
  const bed = useTestBed();
  const app = new Application([Shop], { authenticate, authFailureDelay: 0, requireLogin: true });

  it("refuses everything else, in order, on RESP and text; AUTH, HELLO AUTH, the app's login command, a header login and QUIT work", async () => {
    const port = await bed.serve(app);
    const wire = await clients.open(port);
    wire.write(Buffer.concat([resp("CLIENT", "ID"), resp("echo", "x"), resp("STATS"), resp("HELLO", "3"), resp("AUTH", "alice", "wrong"), resp("AUTH", "alice", "s3cret"), resp("echo", "in")]));
    const replies = (await wire.nextReplies(7, 2)).map(renderReply);
    assert.deepEqual(replies.slice(0, 3), ["-NOAUTH Authentication required.", "-NOAUTH Authentication required.", "-NOAUTH Authentication required."]);
    assert.match(replies[3]!, /^-NOAUTH HELLO must be called with the client already authenticated/);
    assert.match(replies[4]!, /^-WRONGPASS/);
    assert.deepEqual(replies.slice(5), ["+OK", "in"]);

    const hello = await clients.open(port);
    hello.write(Buffer.concat([resp("HELLO", "2", "AUTH", "alice", "s3cret"), resp("echo", "in")]));
    const [map, echoed] = await hello.nextReplies(2, 2);
    assert.equal(map?.t, "array");
    assert.equal(renderReply(echoed!), "in");

    const text = await clients.open(port);
    text.write("echo x\r\nsignin alice s3cret\r\necho in\r\n");
    assert.deepEqual(await text.lines(3), ["-ERR Authorization required", "+OK", "in"]);

    const header = await clients.open(port);
    header.write("auth=alice:s3cret\r\necho in\r\n");
    assert.deepEqual(await header.lines(1), ["in"]);

    const leaving = await clients.open(port);
    leaving.write("quit\r\n");
    assert.deepEqual(await leaving.lines(1), ["+OK"]);
    await leaving.closed();
  });

  it("ioredis and node-redis (RESP2 and RESP3) connect with a password; without one they are refused", async () => {
    const port = await bed.serve(app);
    const io = await connectRedis(port, { username: "alice", password: "s3cret" });
    try {
      assert.equal(await io.call("echo", "io"), "io");
    } finally {
      io.disconnect();
    }
    for (const RESP of [2, 3] as const) {
      const client = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false }, username: "alice", password: "s3cret", RESP });
      const errors: Error[] = [];
      client.on("error", (error: Error) => errors.push(error));
      await client.connect();
      try {
        assert.equal(await client.sendCommand(["echo", `node-redis-${RESP}`]), `node-redis-${RESP}`);
        assert.deepEqual(errors, []);
      } finally {
        client.destroy();
      }
    }
    // ioredis opens with HELLO 3: refused without AUTH, as Redis refuses it under requirepass.
    await assert.rejects(async () => {
      const anonymous = await connectRedis(port);
      try {
        await anonymous.call("echo", "x");
      } finally {
        anonymous.disconnect();
      }
    }, /NOAUTH|Connection is closed/);
  });
});
