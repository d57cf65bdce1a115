/**
 * Server push and pub/sub over the text protocol, on real TCP: the chat example (served
 * from dist, like the telnet-session test) and the built-in SUBSCRIBE / UNSUBSCRIBE /
 * PUBLISH / PUBSUB commands on a src application.
 *
 * The ordering promise under test: a push never splits a reply and never overtakes the
 * reply of an earlier command on the same connection. A push caused by a command of the
 * same connection (PUBLISH to a channel it is subscribed to) comes before that command's
 * own reply, as in Redis; a push from another connection while a command awaits is
 * written at once, before the awaiting command's (whole) reply.
 *
 * "Nothing else arrived" is proved without sleeping: the receiver sends a command after
 * the publisher's command was answered; since pushes are written synchronously when a
 * message is published, any push would precede that command's reply on the socket.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RetopyServer } from "retopy";
import { app as chatApp } from "../examples/chat.js";
import {
  Application,
  CommandError,
  CommandHandler,
  type ConnectionInfo,
  command,
  parameter,
  PubSub,
  type ReplyValue,
} from "../src/index.js";
import { eventually, rawLength, type Running, type TextClient, useTestBed } from "./support.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));


/**
 * Sends `line`, then a sentinel command (`ping`), and returns every line before the
 * sentinel's reply (`+PONG`): a multi-line reply, or the proof that nothing else arrived.
 */
async function untilPong(client: TextClient, line: string, sentinel: readonly [string, string] = ["ping", "+PONG"]): Promise<string[]> {
  client.write(`${line}\r\n${sentinel[0]}\r\n`);
  const lines: string[] = [];
  for (;;) {
    const next = await client.readLine();
    if (next === sentinel[1]) return lines;
    lines.push(next);
  }
}

describe("chat example (examples/chat.ts served from dist)", () => {
  const bed = useTestBed();
  let server: RetopyServer;
  let port: number;

  before(async () => {
    server = new RetopyServer(chatApp, { logger: false });
    ({ port } = await server.listen({ port: 0, host: "127.0.0.1" }));
  });

  // Registered after the bed's hook, so it runs after the clients are closed.
  after(() => server.close({ timeout: 2000 }));

  /** `untilPong` with a sentinel the chat app has: `pubsub numpat` answers `0` (no nickname here is 0). */
  const lines = (client: TextClient, line: string) => untilPong(client, line, ["pubsub numpat", "0"]);

  /** A client that set its nickname (the first line is a command: handshake `auto`). */
  const user = async (nick: string): Promise<TextClient> => {
    const client = await bed.open(port);
    assert.equal(await client.command(`nick ${nick}`), "+OK");
    return client;
  };

  it("join, say and leave reach the room's members only, in the same order for everyone", async () => {
    const ada = await user("ada");
    const bob = await user("bob");
    const cy = await user("cy");

    assert.equal(await ada.command("join lobby"), "message lobby ada joined");
    assert.equal(await bob.command("join lobby"), "message lobby bob joined");
    assert.equal(await ada.readLine(), "message lobby bob joined");
    assert.equal(await cy.command("join dev"), "message dev cy joined");

    // Variadic text: the rest of the line, words joined by one space.
    assert.equal(await ada.command("say lobby hello   there bob"), "message lobby ada: hello there bob");
    assert.equal(await bob.readLine(), "message lobby ada: hello there bob");
    // cy is in another room: its next line is the reply to its own command.
    assert.deepEqual(await lines(cy, "who dev"), ["cy"]);
    assert.deepEqual(await lines(ada, "who lobby"), ["ada", "bob"]);

    assert.equal(await cy.command("say dev anyone?"), "message dev cy: anyone?");
    assert.deepEqual(await lines(ada, "who dev"), ["cy"], "ada got nothing from dev");

    assert.equal(await bob.command("leave lobby"), "message lobby bob left");
    assert.equal(await ada.readLine(), "message lobby bob left");
    assert.equal(await ada.command("say lobby still here?"), "message lobby ada: still here?");
    assert.deepEqual(await lines(bob, "who lobby"), ["ada"], "bob left: no message for him");
    assert.equal(bob.pending.length, 0);
  });

  it("refuses to speak in or leave a room you are not in, and a second join", async () => {
    const dan = await user("dan");
    assert.equal(await dan.command("say nowhere hi"), "-ERR join nowhere first");
    assert.equal(await dan.command("leave nowhere"), "-ERR you are not in nowhere");
    assert.equal(await dan.command("join den"), "message den dan joined");
    assert.equal(await dan.command("join den"), "-ERR you are already in den");
    assert.equal(await dan.command("nick 'two words'"), "-ERR a nickname is 1 to 32 letters, digits, '_', '.' or '-'");
    assert.equal(await dan.command("say den"), "-ERR wrong number of arguments for 'say': missing argument 'text' (usage: say room text [text ...])");
  });

  it("a user without a nickname is guest<id>", async () => {
    const anon = await bed.open(port);
    const line = await anon.command("join hall");
    assert.match(line, /^message hall guest\d+ joined$/);
  });

  it("a member who quits leaves every room; the others keep chatting", async () => {
    const eve = await user("eve");
    const fay = await user("fay");
    assert.equal(await eve.command("join attic"), "message attic eve joined");
    assert.equal(await fay.command("join attic"), "message attic fay joined");
    assert.equal(await eve.readLine(), "message attic fay joined");
    assert.equal(await fay.command("join cellar"), "message cellar fay joined");

    assert.equal(await fay.command("quit"), "+OK");
    await fay.closed();
    // Dropped when the connection closed, before the socket is even released.
    assert.deepEqual(await lines(eve, "who attic"), ["eve"]);
    assert.deepEqual(await lines(eve, "who cellar"), ["(empty)"]);
    assert.equal(await eve.command("say attic alone"), "message attic eve: alone");
    assert.deepEqual(server.pubsub.channels("cellar"), []);
  });
});

/** The src application: user commands around the built-in pub/sub commands. */
function pubsubApp(): Application {
  const counters = new Map<string, number>();

  class Tools extends CommandHandler {
    @parameter({ name: "key" })
    @command({ help: "Adds one to a counter." })
    increment(): number {
      const key = this.getArgument("key");
      counters.set(key, (counters.get(key) ?? 0) + 1);
      return counters.get(key)!;
    }

    @parameter()
    ping(): string {
      return "+PONG";
    }

    @parameter({ name: "ms", type: "int" })
    @command({ help: "Waits, then replies done." })
    async slow(): Promise<string> {
      await sleep(this.getArgument<number>("ms"));
      return "done";
    }

    @parameter({ name: "ms", type: "int" })
    @command({ help: "Writes a line, waits, writes another: one reply of two lines." })
    async twolines(): Promise<void> {
      this.write("first");
      await sleep(this.getArgument<number>("ms"));
      this.write("second");
    }

    @parameter({ name: "channel" })
    @command({ help: "Pushes twice to itself and replies nothing else." })
    pushonly(): void {
      this.connection.push("note", this.getArgument("channel"), 1);
      this.connection.push("note", this.getArgument("channel"), 2);
      this.skipReply();
    }

    @parameter()
    @command({ help: "Pushes, skips its reply, then fails: the error is still the reply." })
    pushfail(): void {
      this.connection.push("before", "failure");
      this.skipReply();
      throw new CommandError("refused after all");
    }

    @parameter()
    @command({ help: "Skips its reply and pushes nothing: no bytes at all." })
    silent(): string {
      this.skipReply();
      return "never sent";
    }
  }
  return new Application([Tools]);
}

describe("built-in pub/sub commands (text protocol, src server)", () => {
  const bed = useTestBed();
  let running: Running;
  let port: number;

  before(async () => {
    running = await bed.start(pubsubApp());
    port = running.port;
  });

  const open = async (): Promise<TextClient> => {
    const client = await bed.open(port);
    assert.equal(await client.command("ping"), "+PONG"); // the first line is a command
    return client;
  };

  it("SUBSCRIBE answers one `subscribe <channel> <count>` line per channel and nothing else", async () => {
    const a = await open();
    a.write("subscribe news weather news\r\nping\r\n");
    assert.deepEqual(await a.readLines(4), ["subscribe news 1", "subscribe weather 2", "subscribe news 2", "+PONG"]);
    assert.equal(a.raw, "+PONG\r\nsubscribe news 1\r\nsubscribe weather 2\r\nsubscribe news 2\r\n+PONG\r\n");
    assert.deepEqual(a.pending, []);
  });

  it("PUBLISH replies the receiver count; each subscriber gets `message <channel> <text>` once", async () => {
    const a = await open();
    const b = await open();
    const c = await open();
    a.send("subscribe sports");
    assert.equal(await a.readLine(), "subscribe sports 1");
    b.send("subscribe sports music");
    assert.deepEqual(await b.readLines(2), ["subscribe sports 1", "subscribe music 2"]);

    assert.equal(await c.command("publish sports goal"), "2");
    assert.equal(await a.readLine(), "message sports goal");
    assert.equal(await b.readLine(), "message sports goal");
    assert.equal(await c.command("publish music 'la la'"), "1");
    assert.equal(await b.readLine(), "message music la la");
    assert.equal(await c.command("publish nobody hello"), "0");
    // a got nothing from music: its next line answers its own command.
    assert.deepEqual(await untilPong(a, "pubsub numsub sports music nobody"), ["sports: 2", "music: 1", "nobody: 0"]);
    assert.deepEqual(c.pending, []);
  });

  it("UNSUBSCRIBE: named channels, all channels, and nothing to leave", async () => {
    const a = await open();
    a.send("subscribe x y z");
    assert.deepEqual(await a.readLines(3), ["subscribe x 1", "subscribe y 2", "subscribe z 3"]);
    a.send("unsubscribe y nope");
    assert.deepEqual(await a.readLines(2), ["unsubscribe y 2", "unsubscribe nope 2"]);
    a.send("unsubscribe");
    assert.deepEqual(await a.readLines(2), ["unsubscribe x 1", "unsubscribe z 0"]);
    // Like Redis: a null channel and a count of 0.
    assert.equal(await a.command("unsubscribe"), "unsubscribe (nil) 0");
    const b = await open();
    assert.equal(await b.command("publish x gone"), "0");
    assert.deepEqual(await untilPong(a, "increment u1"), ["1"]);
  });

  it("PUBSUB CHANNELS [pattern], NUMSUB, NUMPAT and errors", async () => {
    const a = await open();
    a.send("subscribe pc.alpha pc.beta pc.b2 other");
    assert.equal((await a.readLines(4)).length, 4);
    const b = await open();
    const channels = await untilPong(b, "pubsub channels");
    for (const name of ["pc.alpha", "pc.beta", "pc.b2", "other"]) assert.ok(channels.includes(name), name);
    assert.deepEqual(await untilPong(b, "pubsub channels pc.*"), ["pc.alpha", "pc.beta", "pc.b2"]);
    assert.deepEqual(await untilPong(b, "pubsub channels pc.b?"), ["pc.b2"]);
    assert.deepEqual(await untilPong(b, "pubsub channels pc.[ab]*"), ["pc.alpha", "pc.beta", "pc.b2"]);
    assert.deepEqual(await untilPong(b, "pubsub channels pc.[^a]*"), ["pc.beta", "pc.b2"]);
    assert.deepEqual(await untilPong(b, "PUBSUB CHANNELS PC.*"), ["(empty)"], "channel names are case-sensitive");
    assert.deepEqual(await untilPong(b, "pubsub numsub pc.alpha"), ["pc.alpha: 1"]);
    assert.equal(await b.command("pubsub numpat"), "0");
    assert.equal(await b.command("pubsub nosuch"), "-ERR unknown subcommand 'nosuch'. Try PUBSUB HELP.");
    assert.equal(await b.command("pubsub channels a b"), "-ERR wrong number of arguments for 'pubsub|channels' command");
    assert.equal(await b.command("subscribe"), "-ERR wrong number of arguments for 'subscribe': missing argument 'channel' (usage: subscribe channel [channel ...])");
    assert.equal(await b.command("publish onlychannel"), "-ERR wrong number of arguments for 'publish': missing argument 'message' (usage: publish channel message)");
  });

  it("`help` lists the pub/sub built-ins", async () => {
    const a = await open();
    const lines = await untilPong(a, "commands");
    for (const usage of ["subscribe channel [channel ...]", "unsubscribe [channel ...]", "publish channel message", "pubsub subcommand [args ...]"]) {
      assert.ok(lines.includes(usage), usage);
    }
  });

  it("a subscriber that quits is unsubscribed at once: NUMSUB 0, PUBLISH 0, no error", async () => {
    const sub = await open();
    sub.send("subscribe leaving also");
    assert.deepEqual(await sub.readLines(2), ["subscribe leaving 1", "subscribe also 2"]);
    sub.send("quit");
    assert.equal(await sub.readLine(), "+OK");
    // Gone as soon as the connection closed (right after the +OK), not only once the socket
    // is released, which takes the client's FIN.
    assert.equal(running.server.pubsub.subscriberCount("leaving"), 0);
    assert.deepEqual(running.server.pubsub.channels("also"), []);
    await sub.closed();
    const other = await open();
    assert.deepEqual(await untilPong(other, "pubsub numsub leaving also"), ["leaving: 0", "also: 0"]);
    assert.equal(await other.command("publish leaving hello?"), "0");
    assert.deepEqual(running.server.pubsub.channels("leaving"), []);
    assert.deepEqual(running.server.pubsub.channels("also"), []);
  });

  it("a subscriber whose socket just drops is unsubscribed too", async () => {
    const sub = await open();
    assert.equal(await sub.command("subscribe dropped"), "subscribe dropped 1");
    sub.close();
    await eventually(() => running.server.pubsub.subscriberCount("dropped") === 0, 2000, "the dropped subscriber to be removed");
    const other = await open();
    assert.equal(await other.command("publish dropped x"), "0");
    assert.deepEqual(await untilPong(other, "pubsub numsub dropped"), ["dropped: 0"]);
  });

  it("pipelined: a push caused by a command comes before that command's reply, after the earlier replies", async () => {
    const a = await open();
    assert.equal(await a.command("subscribe self"), "subscribe self 1");
    const before = a.raw.length;
    a.write("increment p1\r\npublish self x\r\nincrement p1\r\nsubscribe self2\r\npublish self2 y\r\nping\r\n");
    const expected = "1\r\nmessage self x\r\n1\r\n2\r\nsubscribe self2 2\r\nmessage self2 y\r\n1\r\n+PONG\r\n";
    assert.equal((await rawLength(a, before + expected.length)).slice(before), expected);
    await sleep(20);
    assert.equal(a.raw.length, before + expected.length, "nothing more");
  });

  it("a push from another connection while a command awaits is written at once, never inside a reply", async () => {
    const a = await open();
    const b = await open();
    assert.equal(await a.command("subscribe live"), "subscribe live 1");
    const before = a.raw.length;
    // twolines writes `first`, waits, writes `second`: one reply, encoded when it finishes.
    a.write("increment p2\r\ntwolines 400\r\nincrement p2\r\n");
    assert.equal(await a.readLine(), "1");
    assert.equal(await b.command("publish live news"), "1");
    // Delivered while twolines is still waiting, not held back until it replies: it arrives
    // alone, with none of the reply behind it.
    assert.equal(await a.readLine(1000), "message live news");
    assert.deepEqual(a.pending, [], "twolines has not replied yet");
    assert.deepEqual(await a.readLines(3), ["first", "second", "2"]);
    assert.equal(a.raw.slice(before), "1\r\nmessage live news\r\nfirst\r\nsecond\r\n2\r\n");
  });

  it("pushes from several publishers land between replies, whole, each publisher's in order", async () => {
    const a = await open();
    const pubs = await Promise.all([open(), open(), open()]);
    assert.equal(await a.command("subscribe storm"), "subscribe storm 1");
    a.write("slow 200\r\nincrement p3\r\n");
    for (const [i, pub] of pubs.entries()) {
      pub.write([0, 1, 2, 3, 4].map((k) => `publish storm m${i}.${k}\r\n`).join(""));
    }
    for (const pub of pubs) assert.deepEqual(await pub.readLines(5), ["1", "1", "1", "1", "1"]);
    const lines = await a.readLines(17);
    for (const line of lines) assert.match(line, /^(message storm m\d\.\d|done|1)$/, "every line whole");
    for (const i of [0, 1, 2]) {
      const mine = lines.filter((l) => l.startsWith(`message storm m${i}.`));
      assert.deepEqual(mine, [0, 1, 2, 3, 4].map((k) => `message storm m${i}.${k}`));
    }
    assert.ok(lines.indexOf("done") < lines.indexOf("1"), "replies in command order");
    await sleep(20);
    assert.deepEqual(a.pending, []);
  });

  it("skipReply: pushes are the answer; an error still replies; nothing pushed means no bytes", async () => {
    const a = await open();
    const before = a.raw.length;
    a.write("pushonly n\r\nsilent\r\npushfail\r\nping\r\n");
    const expected = "note n 1\r\nnote n 2\r\nbefore failure\r\n-ERR refused after all\r\n+PONG\r\n";
    assert.equal((await rawLength(a, before + expected.length)).slice(before), expected);
  });

  it("server code can publish through server.pubsub", async () => {
    const a = await open();
    assert.equal(await a.command("subscribe from-server"), "subscribe from-server 1");
    assert.equal(running.server.pubsub.publish("from-server", "hello from the server"), 1);
    assert.equal(await a.readLine(), "message from-server hello from the server");
    assert.deepEqual(running.server.pubsub.subscriptions(running.server.pubsub.subscribers("from-server")[0]!), ["from-server"]);
  });

  it("a user command named publish replaces the built-in", async () => {
    class MyPublish extends CommandHandler {
      @parameter({ name: "what" })
      publish(): string {
        return `published ${this.getArgument("what")}`;
      }
    }
    const client = await bed.open(await bed.serve(new Application([MyPublish])));
    assert.equal(await client.command("publish it"), "published it");
    assert.equal(await client.command("subscribe still-builtin"), "subscribe still-builtin 1");
  });

  it("`defaultHandlers: false` mounts no pub/sub commands", async () => {
    class Only extends CommandHandler {
      @parameter()
      ping(): string {
        return "+PONG";
      }
    }
    const client = await bed.open(await bed.serve(new Application([Only], { defaultHandlers: false })));
    assert.equal(await client.command("ping"), "+PONG");
    assert.equal(await client.command("subscribe x"), "-ERR unknown command 'subscribe'");
    assert.equal(await client.command("publish x y"), "-ERR unknown command 'publish'");
  });
});

/** Just what PubSub uses of a connection: `push` and `signal`. */
function fakeConnection(): { connection: ConnectionInfo; pushes: ReplyValue[][]; close(): void; listeners(): number } {
  const abort = new AbortController();
  const pushes: ReplyValue[][] = [];
  let listeners = 0;
  const signal = abort.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    listeners++;
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    listeners--;
    remove(...args);
  }) as typeof remove;
  const connection = { signal, push: (...values: ReplyValue[]) => void pushes.push(values) } as unknown as ConnectionInfo;
  return { connection, pushes, close: () => abort.abort(), listeners: () => listeners };
}

describe("PubSub (the class, with stand-in connections)", () => {
  it("counts subscriptions per connection and subscribers per channel", () => {
    const pubsub = new PubSub();
    const a = fakeConnection();
    const b = fakeConnection();
    assert.equal(pubsub.subscribe(a.connection, "x"), 1);
    assert.equal(pubsub.subscribe(a.connection, "y"), 2);
    assert.equal(pubsub.subscribe(a.connection, "x"), 2, "again is a no-op");
    assert.equal(pubsub.subscribe(b.connection, "x"), 1);
    assert.deepEqual(pubsub.channels(), ["x", "y"]);
    assert.equal(pubsub.subscriberCount("x"), 2);
    assert.deepEqual(pubsub.subscribers("x"), [a.connection, b.connection]);
    assert.deepEqual(pubsub.subscriptions(a.connection), ["x", "y"]);

    assert.equal(pubsub.publish("x", "hi"), 2);
    assert.equal(pubsub.publish("nobody", "hi"), 0);
    assert.deepEqual(a.pushes, [["message", "x", "hi"]]);
    assert.deepEqual(b.pushes, [["message", "x", "hi"]]);

    assert.equal(pubsub.unsubscribe(a.connection, "nope"), 2);
    assert.equal(pubsub.unsubscribe(a.connection, "x"), 1);
    assert.deepEqual(pubsub.subscribers("x"), [b.connection]);
    assert.deepEqual(pubsub.unsubscribeAll(a.connection), ["y"]);
    assert.deepEqual(pubsub.unsubscribeAll(a.connection), []);
    assert.equal(pubsub.unsubscribe(a.connection, "x"), 0);
    assert.deepEqual(pubsub.channels(), ["x"], "a channel without subscribers is gone");
    assert.equal(a.listeners(), 0, "no close listener left behind");
  });

  it("drops a connection's subscriptions when its signal aborts, and never subscribes a closed one", () => {
    const pubsub = new PubSub();
    const a = fakeConnection();
    pubsub.subscribe(a.connection, "x");
    pubsub.subscribe(a.connection, "y");
    assert.equal(a.listeners(), 1, "one close listener per connection, not per channel");
    a.close();
    assert.deepEqual(pubsub.channels(), []);
    assert.equal(pubsub.publish("x", "late"), 0);
    assert.deepEqual(a.pushes, []);
    assert.equal(pubsub.subscribe(a.connection, "z"), 0);
    assert.deepEqual(pubsub.channels(), []);
  });

  it("matches channels with Redis glob patterns", () => {
    const pubsub = new PubSub();
    const a = fakeConnection();
    for (const channel of ["news.uk", "news.us", "news.fr", "sport", "a*b", "n[x]", "x-y"]) pubsub.subscribe(a.connection, channel);
    assert.deepEqual(pubsub.channels("news.*"), ["news.uk", "news.us", "news.fr"]);
    assert.deepEqual(pubsub.channels("news.u?"), ["news.uk", "news.us"]);
    assert.deepEqual(pubsub.channels("news.[a-g]*"), ["news.fr"]);
    assert.deepEqual(pubsub.channels("news.[^u]*"), ["news.fr"]);
    assert.deepEqual(pubsub.channels("a\\*b"), ["a*b"], "an escaped star is literal");
    assert.deepEqual(pubsub.channels("n\\[x]"), ["n[x]"]);
    assert.deepEqual(pubsub.channels("x-y"), ["x-y"]);
    assert.deepEqual(pubsub.channels("NEWS.*"), [], "case-sensitive");
    assert.deepEqual(pubsub.channels("[z-a]"), [], "a reversed range matches nothing");
    assert.deepEqual(pubsub.channels("*"), pubsub.channels());
  });
});
