/**
 * Unexpected bytes get clear errors, never a crash, and every other connection keeps being
 * served: NUL bytes and invalid UTF-8 in inline commands and RESP bulks, a CR without its
 * LF, malformed and giant numbers in RESP headers (exact `-ERR Protocol error: ...` text,
 * then the server closes that connection, as Redis does), and an endless inline line, which
 * must be cut off long before it is all sent. (Telnet IAC bytes, 0xFF in the text protocol,
 * are the telnet filter's business and are left out of the text-protocol cases here.)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Application, CommandHandler, parameter, status } from "../../src/index.js";
import { type Running, type TextClient, useTestBed } from "../support.js";
import { type RawClient, RawClients, resp, sleep } from "../wire.js";

const store = new Map<string, Buffer>();

class Bytes extends CommandHandler {
  @parameter()
  ping() {
    return status("PONG");
  }

  /** The string a `string` parameter received, as UTF-16 code units: shows exactly what arrived. */
  @parameter({ name: "words", variadic: true })
  codes(): string {
    return JSON.stringify(this.getArguments("words").map((word) => Array.from(word, (ch) => ch.codePointAt(0))));
  }

  /** The bytes a `buffer` parameter received, in hex. */
  @parameter({ name: "value", type: "buffer" })
  hex(): string {
    return this.getArgument<Buffer>("value").toString("hex");
  }

  @parameter({ name: "key" })
  @parameter({ name: "value", type: "buffer" })
  set() {
    store.set(this.getArgument("key"), this.getArgument<Buffer>("value"));
    return status("OK");
  }

  @parameter({ name: "key" })
  get(): Buffer | null {
    return store.get(this.getArgument("key")) ?? null;
  }
}

const latin1 = (text: string) => Buffer.from(text, "latin1");

describe("unexpected bytes", () => {
  const bed = useTestBed();
  const raw = new RawClients();
  let running: Running;
  /** A bystander on its own connection: it must be answered after every case. */
  let bystander: TextClient;

  before(async () => {
    running = await bed.start(new Application([Bytes]));
    bystander = await bed.open(running.port);
    assert.equal(await bystander.command("ping"), "+PONG");
  });

  after(() => raw.destroyAll());

  async function bystanderStillServed(): Promise<void> {
    assert.equal(await bystander.command("ping"), "+PONG");
  }

  /** A text connection past its handshake. */
  async function textClient(): Promise<RawClient> {
    const client = await raw.open(running.port);
    client.write("ping\r\n");
    await client.until((received) => received.toString() === "+PONG\r\n", "the handshake's PONG");
    client.clear();
    return client;
  }

  describe("NUL bytes", () => {
    it("inline: NUL is an ordinary byte of a word, in arguments and in the command word", async () => {
      const client = await textClient();
      client.write(latin1("codes a\0b \0\r\nhex \0\0\r\npi\0ng\r\n\0\r\nping\r\n"));
      // A control byte quoted back in a text-mode error is shown as \xHH, never sent raw.
      const expected = "[[97,0,98],[0]]\r\n0000\r\n-ERR unknown command 'pi\\x00ng'\r\n-ERR unknown command '\\x00'\r\n+PONG\r\n";
      assert.equal(await client.bytes(expected.length), expected);
      await bystanderStillServed();
    });

    it("RESP bulks: NUL bytes in arguments round-trip, and a NUL in the command word is unknown", async () => {
      const client = await raw.open(running.port);
      const value = Buffer.from([0, 0x61, 0, 0, 0x62, 0]);
      client.write(Buffer.concat([resp("set", "nul", value), resp("get", "nul"), resp("hex", value), resp("ping\0"), resp("ping")]));
      assert.deepEqual(await client.replies(5, 2), [
        { t: "simple", v: "OK" },
        { t: "bulk", v: value },
        { t: "bulk", v: Buffer.from(value.toString("hex")) },
        { t: "error", v: "ERR unknown command 'ping\0'" },
        { t: "simple", v: "PONG" },
      ]);
      await bystanderStillServed();
    });
  });

  describe("invalid UTF-8", () => {
    // Each is malformed UTF-8 without 0xFF: a stray continuation byte, a lead byte followed
    // by ASCII, a truncated three-byte sequence, an overlong encoding of '/', and 0xFE.
    const MALFORMED = [[0x80], [0xc3, 0x28], [0xe2, 0x82], [0xc0, 0xaf], [0xfe]];

    it("inline: a string parameter receives U+FFFD for each malformed sequence (WHATWG decoding)", async () => {
      const client = await textClient();
      const line = Buffer.concat([latin1("codes"), ...MALFORMED.map((bytes) => Buffer.concat([latin1(" "), Buffer.from(bytes)])), latin1("\r\n")]);
      client.write(line);
      // What Node's and the WHATWG decoder give: one U+FFFD per maximal invalid subpart.
      const expected = JSON.stringify([[0xfffd], [0xfffd, 0x28], [0xfffd], [0xfffd, 0xfffd], [0xfffd]]);
      assert.equal(await client.bytes(expected.length + 2), `${expected}\r\n`);
      for (const bytes of MALFORMED) {
        const decoded = new TextDecoder().decode(Buffer.from(bytes));
        assert.ok(expected.includes(JSON.stringify(Array.from(decoded, (ch) => ch.codePointAt(0)))), decoded);
      }
    });

    it("inline: the text protocol is text, so a buffer parameter gets the UTF-8 of that string, not the raw bytes", async () => {
      const client = await textClient();
      client.write(Buffer.concat([latin1("hex "), Buffer.from([0x61, 0x80, 0x62]), latin1("\r\nping\r\n")]));
      // a, U+FFFD (ef bf bd), b: binary-safe values need RESP.
      assert.equal(await client.bytes("61efbfbd62\r\n+PONG\r\n".length), "61efbfbd62\r\n+PONG\r\n");
    });

    it("inline: a malformed command word is an unknown command named with U+FFFD", async () => {
      const client = await textClient();
      client.write(Buffer.concat([Buffer.from([0xc3, 0x28]), latin1(" x\r\nping\r\n")]));
      const expected = Buffer.concat([Buffer.from("-ERR unknown command '\ufffd('\r\n"), Buffer.from("+PONG\r\n")]);
      await client.until((received) => received.length >= expected.length, "two replies");
      assert.ok(client.received.equals(expected), client.text);
      await bystanderStillServed();
    });

    it("RESP bulks are binary-safe: malformed UTF-8 (0xFF included) round-trips through a buffer parameter", async () => {
      const client = await raw.open(running.port);
      const value = Buffer.from([...MALFORMED.flat(), 0xff, 0xff, 0x00, 0xfe, 0x0d, 0x0a]);
      const long = Buffer.concat([value, Buffer.alloc(100, 0xc3)]); // past the short-argument fast path
      client.write(
        Buffer.concat([resp("set", "bin", value), resp("get", "bin"), resp("hex", long), resp("set", "long", long), resp("get", "long"), resp("codes", Buffer.from([0xc3, 0x28]))]),
      );
      assert.deepEqual(await client.replies(6, 2), [
        { t: "simple", v: "OK" },
        { t: "bulk", v: value },
        { t: "bulk", v: Buffer.from(long.toString("hex")) },
        { t: "simple", v: "OK" },
        { t: "bulk", v: long },
        // A string parameter over RESP decodes as UTF-8 too.
        { t: "bulk", v: Buffer.from(JSON.stringify([[0xfffd, 0x28]])) },
      ]);
    });

    it("RESP: a command word with malformed UTF-8 or CR LF inside is an unknown command on one line", async () => {
      const client = await raw.open(running.port);
      client.write(Buffer.concat([resp(Buffer.from([0x70, 0xff, 0x80])), resp("a\r\n+OK\r\nb"), resp("ping")]));
      // The line break cannot start a forged reply: it is folded into the error line.
      assert.deepEqual(await client.replies(3, 2), [
        { t: "error", v: "ERR unknown command 'p\ufffd\ufffd'" },
        { t: "error", v: "ERR unknown command 'a +OK b'" },
        { t: "simple", v: "PONG" },
      ]);
      await bystanderStillServed();
    });
  });

  it("a CR without LF is whitespace inside the line: nothing runs until the LF", async () => {
    const client = await textClient();
    client.write("set cr-key b\rget cr-key\r");
    await sleep(100);
    assert.equal(client.text, "", "no reply before the line ends");
    client.write("\n");
    const refusal = "-ERR wrong number of arguments for 'set': unexpected 'get' (usage: set key value)\r\n";
    assert.equal(await client.bytes(refusal.length), refusal);
    client.clear();
    client.write("get cr-key\r\n");
    assert.equal(await client.bytes("(nil)\r\n".length), "(nil)\r\n", "the refused set stored nothing");
    await bystanderStillServed();
  });

  describe("malformed RESP numbers: the exact protocol error, then the server closes the connection", () => {
    const FATAL: [label: string, bytes: string, error: string][] = [
      ["a multibulk length of 20 digits", "*99999999999999999999\r\n", "invalid multibulk length"],
      ["a multibulk length above maxArgs", "*1048577\r\n", "invalid multibulk length"],
      ["an empty multibulk length", "*\r\n", "invalid multibulk length"],
      ["a multibulk length with a letter", "*1x\r\n", "invalid multibulk length"],
      ["LF without CR after the multibulk length", "*1\n$4\nping\n", "invalid multibulk length"],
      ["a negative bulk length", "*1\r\n$-5\r\n", "invalid bulk length"],
      ["a bulk length that is not a number", "*1\r\n$abc\r\n", "invalid bulk length"],
      ["a bulk length of 2^63", "*1\r\n$9223372036854775808\r\n", "invalid bulk length"],
      ["a bulk length above maxBulkLength", "*1\r\n$536870913\r\n", "invalid bulk length"],
      ["a bulk length with a space", "*1\r\n$3 \r\nabc\r\n", "invalid bulk length"],
      ["a bulk string followed by XY instead of CRLF", "*1\r\n$3\r\nabcXY", "expected CRLF after bulk string"],
      ["a bulk string followed by LF only", "*1\r\n$3\r\nabc\n\r", "expected CRLF after bulk string"],
      ["something other than $ where a bulk belongs", "*2\r\n$4\r\nping\r\nX", "expected '$', got 'X'"],
    ];

    for (const [label, bytes, error] of FATAL) {
      for (const split of [false, true]) {
        it(`${label}${split ? ", sent one byte per write" : ""}`, async () => {
          const client = await raw.open(running.port);
          const stream = Buffer.concat([resp("ping"), latin1(bytes), resp("ping")]);
          if (split) {
            for (const byte of stream) {
              if (client.isClosed) break;
              client.write(Buffer.from([byte]));
              await new Promise((resolve) => setImmediate(resolve));
            }
          } else client.write(stream);
          await client.closed();
          // The reply owed before the bad frame, the error, and nothing for what followed it.
          assert.equal(client.text, `+PONG\r\n-ERR Protocol error: ${error}\r\n`);
          assert.ok(client.endedByServer, "the server closed the connection");
          await bystanderStillServed();
        });
      }
    }

    it("*0, *-1 and *-5 are ignored, as Redis does; the connection stays open", async () => {
      const client = await raw.open(running.port);
      client.write(Buffer.concat([resp("ping"), latin1("*0\r\n*-1\r\n*-5\r\n"), resp("ping")]));
      assert.deepEqual(await client.replies(2, 2), [
        { t: "simple", v: "PONG" },
        { t: "simple", v: "PONG" },
      ]);
      await sleep(20);
      assert.equal(client.isClosed, false);
    });
  });

  describe("an inline line that never ends, 64 MB of it, with the default limits", () => {
    const CHUNK = Buffer.alloc(64 * 1024, "x");
    const MAX_CHUNKS = 1024; // 64 MB

    /**
     * Writes CHUNK until the socket closes or errors (bounded by MAX_CHUNKS), honouring
     * backpressure; returns how many bytes the kernel accepted before the server cut it off.
     */
    async function stream(client: RawClient): Promise<{ sent: number; chunks: number }> {
      let sent = 0;
      let chunks = 0;
      for (; chunks < MAX_CHUNKS && !client.isClosed && client.error === null; chunks++) {
        const flushed = client.socket.write(CHUNK, (error) => {
          if (!error) sent += CHUNK.length;
        });
        if (!flushed) {
          // Wait for the kernel to take it, or for the server to close us (bounded).
          await Promise.race([
            new Promise((resolve) => client.socket.once("drain", resolve)),
            client.closed(5000).catch(() => undefined),
          ]);
        }
      }
      return { sent, chunks };
    }

    async function refusedEarly(client: RawClient, expected: string): Promise<void> {
      const heapBefore = process.memoryUsage();
      const { sent, chunks } = await stream(client);
      await client.closed(5000);
      const heapAfter = process.memoryUsage();
      assert.equal(client.text, expected);
      assert.ok(chunks < MAX_CHUNKS, `the server was still reading after ${chunks} chunks`);
      // Socket buffers on the loopback hold a few MB at most: far below the 64 MB.
      assert.ok(sent < 16 * 1024 * 1024, `the server took ${sent} bytes before closing`);
      const grown = heapAfter.heapUsed + heapAfter.arrayBuffers - (heapBefore.heapUsed + heapBefore.arrayBuffers);
      assert.ok(grown < 32 * 1024 * 1024, `memory grew by ${grown} bytes`);
      await bystanderStillServed();
    }

    it("after the handshake: too big inline request, then the connection closes", async () => {
      const client = await textClient();
      await refusedEarly(client, "-ERR Protocol error: too big inline request\r\n");
    });

    it("on a RESP connection (an inline line after a multibulk request): the same", async () => {
      const client = await raw.open(running.port);
      client.write(resp("ping"));
      await client.replies(1, 2);
      await refusedEarly(client, "+PONG\r\n-ERR Protocol error: too big inline request\r\n");
    });

    it("as the very first line, starting with a command word: the same", async () => {
      const client = await raw.open(running.port);
      client.write("codes ");
      await refusedEarly(client, "-ERR Protocol error: too big inline request\r\n");
    });

    it("as the very first line, not a command: refused as a header over maxHeaderSize", async () => {
      const client = await raw.open(running.port);
      await refusedEarly(client, "-ERR Protocol error: header too large (max 255 bytes)\r\n");
    });
  });

  it("the server is fine afterwards: stats, supervisor and new connections", async () => {
    const client = await bed.open(running.port);
    assert.equal(await client.command("ping"), "+PONG");
    assert.equal(running.server.supervisor.getSnapshot().status, "active");
    assert.ok(running.server.stats().errorsTotal > 0);
    await bystanderStillServed();
  });
});
