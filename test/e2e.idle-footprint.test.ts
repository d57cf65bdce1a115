/**
 * What an idle connection no longer holds, over real TCP: its own socket listeners (one set
 * serves every socket), a command queue and a SocketOutput (made for work and let go once
 * idle), and a request decoder (one is shared by every read that ends on a whole request;
 * a connection keeps its own only while a request is cut off). Each of these must stay
 * invisible to clients: streams stay apart, order holds, pushes reach idle subscribers, and
 * a poisoned stream or a vanished client costs only its own connection.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Application, CommandHandler, parameter } from "../src/index.js";
import { useTestBed } from "./support.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class Tools extends CommandHandler {
  @parameter({ name: "word" })
  echo(): string {
    return this.getArgument("word");
  }

  @parameter({ name: "word" })
  @parameter({ name: "ms", type: "int" })
  async later(): Promise<string> {
    await sleep(this.getArgument<number>("ms"));
    return this.getArgument("word");
  }
}

describe("idle connections hold little, and nothing of it shows", () => {
  const bed = useTestBed();

  it("requests cut off on several connections at once (text and RESP) stay each with its own stream", async () => {
    const port = await bed.serve(new Application([Tools]), { handshake: "none" });
    const [a, b, c] = await Promise.all([bed.open(port), bed.open(port), bed.open(port)]);
    a.write("echo al");
    b.write("*2\r\n$4\r\necho\r\n$5\r\nbr"); // RESP: the reply protocol follows
    await sleep(30); // both halves are read (and held) before anything else arrives
    c.write("echo whole\r\n"); // decoded by the shared decoder while a and b hold their halves
    assert.equal(await c.readLine(), "whole");
    a.write("pha\r\necho again\r\n");
    b.write("avo\r\n");
    assert.deepEqual(await a.readLines(2), ["alpha", "again"]);
    assert.deepEqual(await b.readLines(2), ["$5", "bravo"]);
    c.write("echo still\r\n");
    assert.equal(await c.readLine(), "still");
  });

  it("a connection idle between reads keeps its order: sync, async and pipelined reads after it", async () => {
    const port = await bed.serve(new Application([Tools]), { handshake: "none" });
    const client = await bed.open(port);
    assert.equal(await client.command("echo one"), "one");
    await sleep(20); // idle: its queue and output were let go
    client.write("later two 30\r\necho three\r\n");
    await sleep(5);
    client.write("echo four\r\n"); // a later read, while the async command runs
    assert.deepEqual(await client.readLines(3), ["two", "three", "four"]);
    await sleep(20);
    assert.equal(await client.command("echo five"), "five");
  });

  it("a push reaches an idle subscriber, between its replies", async () => {
    const port = await bed.serve(new Application([Tools]), { handshake: "none" });
    const [subscriber, publisher] = await Promise.all([bed.open(port), bed.open(port)]);
    subscriber.send("subscribe news");
    assert.equal(await subscriber.readLine(), "subscribe news 1");
    await sleep(20); // the subscriber is idle
    publisher.send("publish news hello");
    assert.equal(await publisher.readLine(), "1");
    assert.equal(await subscriber.readLine(), "message news hello");
    publisher.send("publish news again");
    assert.equal(await publisher.readLine(), "1");
    assert.equal(await subscriber.readLine(), "message news again");
    assert.equal(await subscriber.command("echo after"), "after", "its own replies still follow");
  });

  it("a stream poisoned on one connection, and a client that vanishes, cost only their own connection", async () => {
    const running = await bed.start(new Application([Tools]), { handshake: "none", maxLineLength: 64 });
    const [bad, gone, good] = await Promise.all([bed.open(running.port), bed.open(running.port), bed.open(running.port)]);
    good.write("echo hal");
    await sleep(20);
    bad.write(`echo ${"x".repeat(200)}`); // too long for a line, and no end: fatal for this stream
    assert.match(await bad.readLine(), /^-ERR/);
    await bad.closed();
    gone.socket.destroy(); // no goodbye
    good.write("f\r\n");
    assert.equal(await good.readLine(), "half");
    assert.equal(await good.command("echo fine"), "fine");
    for (let i = 0; i < 100 && running.server.connections.size !== 1; i++) await sleep(10);
    assert.equal(running.server.connections.size, 1, "the other two are gone, and only they");
  });
});
