/**
 * The handshake ("header") line and the connection's protocol limits over real TCP:
 * `auto`, `line` and `none` handshakes, header fields, header size and timeout limits,
 * the state a command sees, and the inline line-length limit.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, CommandHandler, type HandlerClass, parameter, type RetopyServerOptions } from "../src/index.js";
import { useTestBed } from "./support.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const counters = new Map<string, number>();

class Handshake extends CommandHandler {
  @parameter()
  ping(): string {
    return "+PONG";
  }

  @parameter("key")
  increment(): number {
    const key = this.getArgument("key");
    const value = (counters.get(key) ?? 0) + 1;
    counters.set(key, value);
    return value;
  }

  @parameter({ name: "text", variadic: true })
  echo(): string {
    return this.getArguments("text").join(" ");
  }

  @parameter()
  header(): string {
    return JSON.stringify(this.connection.header);
  }

  @parameter()
  state(): string {
    return this.connection.state;
  }

  @parameter("user")
  login(): string {
    const before = this.connection.state;
    this.connection.user = this.getArgument("user");
    return `${before}->${this.connection.state} user=${this.connection.user}`;
  }

  @parameter()
  logout(): string {
    const before = this.connection.state;
    this.connection.user = null;
    return `${before}->${this.connection.state} user=${String(this.connection.user)}`;
  }
}

/** Same as Handshake, without a `header` command, so `header line` is not a command in `none`. */
class NoHeaderCommand extends CommandHandler {
  @parameter()
  ping(): string {
    return "+PONG";
  }

  @parameter("key")
  increment(): number {
    return 1;
  }
}

describe("handshake and protocol limits", () => {
  const { serve: serveApp, open } = useTestBed();

  const serve = (options: RetopyServerOptions = {}, handlers: HandlerClass[] = [Handshake]): Promise<number> =>
    serveApp(new Application(handlers), options);

  describe("auto (default)", () => {
    it("a first line that is a command runs at once", async () => {
      const client = await open(await serve());
      assert.equal(await client.command("ping"), "+PONG");
      assert.equal(await client.command("header"), "{}", "an implicit header has no fields");
    });

    it("any other first line is the header: no reply, then commands work", async () => {
      const client = await open(await serve(undefined, [NoHeaderCommand]));
      client.send("header line");
      await sleep(30);
      assert.equal(client.raw, "", "the header is not answered");
      assert.equal(await client.command("increment a"), "1");
      assert.equal(client.raw, "1\r\n");
    });

    it("the header's key=value tokens are visible to commands", async () => {
      const client = await open(await serve());
      client.write('client=test Version=2 name="a b" loose\r\nheader\r\n');
      assert.deepEqual(JSON.parse(await client.readLine()), { client: "test", version: "2", name: "a b" });
    });
  });

  describe("line", () => {
    it("the first line is always the header, even `ping`", async () => {
      const client = await open(await serve({ handshake: "line" }));
      client.send("ping");
      await sleep(30);
      assert.equal(client.raw, "", "the first ping is the header");
      assert.equal(await client.command("ping"), "+PONG");
      assert.equal(client.raw, "+PONG\r\n");
    });

    it("header and first command in one packet", async () => {
      const client = await open(await serve({ handshake: "line" }));
      client.write("user=u1\r\nheader\r\nping\r\n");
      assert.deepEqual(await client.readLines(2), ['{"user":"u1"}', "+PONG"]);
    });
  });

  describe("none", () => {
    it("there is no header: the first line is a command", async () => {
      const client = await open(await serve({ handshake: "none" }, [NoHeaderCommand]));
      assert.equal(await client.command("header line"), "-ERR unknown command 'header'");
      assert.equal(await client.command("ping"), "+PONG");
    });

    it("a command's header is empty", async () => {
      const client = await open(await serve({ handshake: "none" }));
      assert.equal(await client.command("header"), "{}");
    });
  });

  describe("maxHeaderSize", () => {
    const TOO_LARGE = "-ERR Protocol error: header too large (max 16 bytes)";

    it("a complete header over the limit is refused and the socket closed", async () => {
      const client = await open(await serve({ maxHeaderSize: 16 }));
      client.write("this header is longer than sixteen bytes\r\nping\r\n");
      await client.closed();
      assert.equal(client.raw, `${TOO_LARGE}\r\n`);
    });

    it("a header at the limit is accepted", async () => {
      const client = await open(await serve({ maxHeaderSize: 16 }));
      client.write("k=0123456789abc\r\nping\r\n"); // 16 bytes
      assert.equal(await client.readLine(), "+PONG");
    });

    it("a header over the limit is refused before its newline arrives", async () => {
      const client = await open(await serve({ maxHeaderSize: 16 }));
      client.write("x".repeat(40)); // never terminated
      await client.closed();
      assert.equal(client.raw, `${TOO_LARGE}\r\n`);
    });

    it("also in `line` mode", async () => {
      const port = await serve({ maxHeaderSize: 16, handshake: "line" });
      const complete = await open(port);
      complete.write(`${"y".repeat(17)}\r\n`);
      await complete.closed();
      assert.equal(complete.raw, `${TOO_LARGE}\r\n`);
      const partial = await open(port);
      partial.write("y".repeat(17));
      await partial.closed();
      assert.equal(partial.raw, `${TOO_LARGE}\r\n`);
    });

    it("in `auto` mode, a long first command gets the same answer however TCP splits it", async () => {
      const port = await serve({ maxHeaderSize: 16 });
      const words = "word ".repeat(8).trim(); // the line is far longer than 16 bytes
      const whole = await open(port);
      whole.write(`echo ${words}\r\n`);
      assert.equal(await whole.readLine(), words, "in one packet the first line is a command");

      const split = await open(port);
      split.write(`echo ${words}`);
      await sleep(30);
      split.write("\r\n");
      assert.equal(await split.readLine(), words, "split before its newline it must still be the same command");
    });
  });

  describe("headerTimeout", () => {
    it("a client that sends no header is told and disconnected", async () => {
      const client = await open(await serve({ headerTimeout: 200 }));
      const started = Date.now();
      await client.closed(3000);
      const elapsed = Date.now() - started;
      assert.equal(client.raw, "-ERR Protocol error: header timeout\r\n");
      assert.ok(elapsed >= 150, `closed after ${elapsed} ms, before the timeout`);
    });

    it("does not fire once the header arrived", async () => {
      const client = await open(await serve({ headerTimeout: 100 }));
      client.send("hello there");
      await sleep(250);
      assert.equal(await client.command("ping"), "+PONG");
      assert.equal(client.isClosed, false);
    });
  });

  describe("connection state", () => {
    it("reads ready, then authenticated once a user is set, and ready again after user = null", async () => {
      const client = await open(await serve());
      assert.equal(await client.command("state"), "ready");
      assert.equal(await client.command("login alice"), "ready->authenticated user=alice");
      assert.equal(await client.command("state"), "authenticated");
      assert.equal(await client.command("login bob"), "authenticated->authenticated user=bob");
      assert.equal(await client.command("logout"), "authenticated->ready user=null");
      assert.equal(await client.command("state"), "ready");
      assert.equal(await client.command("logout"), "ready->ready user=null");
    });
  });

  describe("maxLineLength", () => {
    it("answers the lines before an oversized one, then replies too big inline request and closes", async () => {
      const client = await open(await serve({ maxLineLength: 1024 }));
      client.write(`ping\r\nincrement big\r\necho ${"z".repeat(2000)}\r\nping\r\n`);
      await client.closed();
      assert.equal(client.raw, "+PONG\r\n1\r\n-ERR Protocol error: too big inline request\r\n");
    });

    it("a line of exactly maxLineLength bytes is accepted", async () => {
      const client = await open(await serve({ maxLineLength: 1024 }));
      const text = "a".repeat(1024 - "echo ".length);
      client.write(`ping\r\necho ${text}\r\n`);
      assert.deepEqual(await client.readLines(2), ["+PONG", text]);
    });

    it("an oversized line that never ends is refused too", async () => {
      const client = await open(await serve({ maxLineLength: 1024 }));
      assert.equal(await client.command("ping"), "+PONG");
      client.write(`echo ${"z".repeat(1500)}`);
      await client.closed();
      assert.equal(client.raw, "+PONG\r\n-ERR Protocol error: too big inline request\r\n");
    });
  });
});
