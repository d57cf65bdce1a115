/**
 * Pattern subscriptions on the in-process transport, over the text protocol and raw RESP:
 * PSUBSCRIBE / PUNSUBSCRIBE with Redis's counts (channels + patterns), `pmessage` lines,
 * a connection matched by a channel and a pattern getting both, leave-all with the other
 * kind left, patterns dropped when the connection closes, and PSUBSCRIBE needing a login
 * as SUBSCRIBE does.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Application, CommandHandler, command } from "../src/index.js";
import { eventually, type TextClient, useTestBed } from "./support.js";

class Tools extends CommandHandler {
  @command({ help: "Replies +PONG." })
  ping(): string {
    return "+PONG";
  }
}

describe("PSUBSCRIBE and PUNSUBSCRIBE (in-process, text protocol)", () => {
  const bed = useTestBed();

  const open = async (port: number): Promise<TextClient> => {
    const client = await bed.open(port);
    assert.equal(await client.command("ping"), "+PONG"); // the first line is a command
    return client;
  };

  it("pmessage for every matching pattern, message for the channel, counts as Redis's", async () => {
    const running = await bed.start(new Application([Tools]));
    const sub = await open(running.port);
    const pub = await open(running.port);
    sub.send("subscribe news.uk");
    assert.equal(await sub.readLine(), "subscribe news.uk 1");
    sub.send("psubscribe news.* n?ws.uk news.*");
    assert.deepEqual(await sub.readLines(3), ["psubscribe news.* 2", "psubscribe n?ws.uk 3", "psubscribe news.* 3"]);

    assert.equal(await pub.command("publish news.uk rain"), "3");
    assert.deepEqual(await sub.readLines(3), ["message news.uk rain", "pmessage news.* news.uk rain", "pmessage n?ws.uk news.uk rain"]);
    assert.equal(await pub.command("publish news.fr soleil"), "1");
    assert.equal(await sub.readLine(), "pmessage news.* news.fr soleil");
    assert.equal(await pub.command("publish sport goal"), "0");
    assert.equal(await pub.command("pubsub numpat"), "2", "distinct patterns");
    assert.deepEqual(running.server.pubsub.patternSubscriptions(running.server.pubsub.subscribers("news.uk")[0]!), ["news.*", "n?ws.uk"]);

    // Leave-all of one kind: the count is what is left of both kinds.
    sub.send("punsubscribe");
    assert.deepEqual(await sub.readLines(2), ["punsubscribe news.* 2", "punsubscribe n?ws.uk 1"]);
    sub.send("punsubscribe");
    assert.equal(await sub.readLine(), "punsubscribe (nil) 1");
    assert.equal(await pub.command("publish news.fr nobody"), "0");
    sub.send("psubscribe x*");
    assert.equal(await sub.readLine(), "psubscribe x* 2");
    sub.send("unsubscribe");
    assert.equal(await sub.readLine(), "unsubscribe news.uk 1");
    sub.send("unsubscribe");
    assert.equal(await sub.readLine(), "unsubscribe (nil) 1");
    sub.send("punsubscribe x* never");
    assert.deepEqual(await sub.readLines(2), ["punsubscribe x* 0", "punsubscribe never 0"]);
    assert.equal(await pub.command("pubsub numpat"), "0");
  });

  it("a publisher matched by its own pattern gets the pmessage before its reply", async () => {
    const running = await bed.start(new Application([Tools]));
    const a = await open(running.port);
    a.send("psubscribe self.*");
    assert.equal(await a.readLine(), "psubscribe self.* 1");
    a.send("publish self.x hi");
    assert.deepEqual(await a.readLines(2), ["pmessage self.* self.x hi", "1"]);
  });

  it("a closed connection's patterns are dropped: NUMPAT 0, PUBLISH 0", async () => {
    const running = await bed.start(new Application([Tools]));
    const sub = await open(running.port);
    const other = await open(running.port);
    sub.send("psubscribe gone.* also?");
    assert.deepEqual(await sub.readLines(2), ["psubscribe gone.* 1", "psubscribe also? 2"]);
    assert.equal(await other.command("pubsub numpat"), "2");
    sub.close();
    await eventually(() => running.server.pubsub.patterns().length === 0, 2000, "the patterns to go");
    assert.equal(await other.command("pubsub numpat"), "0");
    assert.equal(await other.command("publish gone.x hello?"), "0");
  });

  it("PSUBSCRIBE needs a login once the application can log anyone in, as SUBSCRIBE does", async () => {
    const app = new Application([Tools], { authenticate: (user, password) => user === "ada" && password === "pw" });
    const running = await bed.start(app);
    const client = await open(running.port);
    assert.equal(await client.command("psubscribe x*"), "-ERR Authorization required");
    assert.equal(await client.command("punsubscribe"), "punsubscribe (nil) 0", "leaving needs no login, as UNSUBSCRIBE");
  });
});
