/**
 * The `proxyProtocol` option over real TCP on 127.0.0.1, with this test as the proxy: v1 and
 * v2 headers, then commands (text and RESP, in one write and byte by byte), and what sees
 * the client's address (a command, CLIENT LIST, the log, the per-address login budget); the
 * refusals (each logged, counted, and nobody else disturbed); TLS behind the header.
 */
import assert from "node:assert/strict";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { Application, CommandHandler, parameter, passwordAuthenticator, RetopyServer, type RetopyServerOptions } from "../src/index.js";
import { eventually } from "./support.js";
import { selfSignedCertificate } from "./tls-support.js";
import { RawClient, renderReply, resp, sleep } from "./wire.js";
import { proxyV1, proxyV2, tlv } from "./proxy-support.js";

class Who extends CommandHandler {
  @parameter()
  whoami() {
    return `${this.connection.remoteAddress}:${this.connection.remotePort}`;
  }

  @parameter()
  handshake() {
    return JSON.stringify(this.connection.header);
  }
}

const app = new Application([Who], { authenticate: passwordAuthenticator({ alice: "right" }), authFailureDelay: 0, maxAuthFailures: 0, maxAuthFailuresPerAddress: 2 });

type LogLine = Record<string, unknown> & { msg: string; level: number };

const servers: RetopyServer[] = [];
const clients: { destroy(): void }[] = [];
after(async () => {
  for (const client of clients) client.destroy();
  await Promise.all(servers.map((server) => server.close({ timeout: 1000 })));
});

async function start(options: RetopyServerOptions, listen: { tls?: { key: Buffer; cert: Buffer } } = {}) {
  const log: LogLine[] = [];
  const server = new RetopyServer(app, { logger: { level: "debug", destination: { write: (line: string) => void log.push(JSON.parse(line) as LogLine) } }, ...options });
  servers.push(server);
  const { port } = await server.listen({ port: 0, host: "127.0.0.1", ...listen });
  return { server, port, log };
}

async function client(port: number): Promise<RawClient> {
  const raw = await RawClient.connect(port);
  clients.push(raw);
  return raw;
}

const A = { source: { address: "203.0.113.7", port: 51234 }, destination: { address: "10.0.0.2", port: 6379 } };
const B = { source: { address: "2001:db8::42", port: 40000 }, destination: { address: "2001:db8::1", port: 6379 } };

async function rejectedMetric(server: RetopyServer): Promise<string> {
  const registry = await server.metrics();
  return /retopy_connections_rejected_total\{reason="proxy_protocol"\} (\d+)/.exec(await registry.metrics())?.[1] ?? "0";
}

describe("a PROXY header names the client", () => {
  it("v1 and v2, text and RESP, header and command in one write: the command, CLIENT LIST and the log see the client", async () => {
    const { server, port, log } = await start({ proxyProtocol: true });
    const text = await client(port);
    text.write(Buffer.concat([proxyV1(A), Buffer.from("whoami\r\n")]));
    assert.deepEqual(await text.lines(1), ["203.0.113.7:51234"]);

    const binary = await client(port);
    binary.write(Buffer.concat([proxyV2(B, { tlvs: tlv(0x05, Buffer.from("id-1")) }), resp("whoami"), resp("CLIENT", "LIST")]));
    const [who, list] = (await binary.nextReplies(2, 2)).map(renderReply);
    assert.equal(who, "2001:db8::42:40000");
    // CLIENT LIST (which shows a client without a login its own connection only).
    assert.match(list!, /addr=\[2001:db8::42\]:40000 /);
    assert.doesNotMatch(list!, /addr=127\.0\.0\.1/);
    const v1 = await client(port);
    v1.write(Buffer.concat([proxyV1(A), resp("CLIENT", "LIST")]));
    assert.match(renderReply((await v1.nextReplies(1, 2))[0]!), /addr=203\.0\.113\.7:51234 /);

    const opened = log.filter((line) => line.msg === "connection opened").map((line) => `${line.remoteAddress}:${line.remotePort}`);
    assert.deepEqual(opened.sort(), ["2001:db8::42:40000", "203.0.113.7:51234", "203.0.113.7:51234"]);
    assert.equal(log.find((line) => line.msg === "listening")?.proxyProtocol, true);
    // Neither header became a handshake line or a command: no error was replied or counted.
    assert.equal(server.stats().errorsTotal, 0);
    assert.equal(server.stats().connectionsRejected, 0);
  });

  it("handshake line: the line after the PROXY header is the handshake line, not the PROXY header", async () => {
    const { port } = await start({ proxyProtocol: true, handshake: "line" });
    const raw = await client(port);
    raw.write(Buffer.concat([proxyV1(A), Buffer.from("client=abc\r\nhandshake\r\n")]));
    // The handshake line has no reply of its own: the one line back is the command's.
    assert.deepEqual(await raw.lines(1), [JSON.stringify({ client: "abc" })]);
  });

  it("byte by byte: header and first command arrive one byte per write", async () => {
    const { server, port } = await start({ proxyProtocol: true });
    for (const bytes of [Buffer.concat([proxyV1(A), resp("whoami")]), Buffer.concat([proxyV2(A), Buffer.from("whoami\r\n")])]) {
      const raw = await client(port);
      raw.socket.setNoDelay(true);
      for (const byte of bytes) {
        raw.write(Buffer.from([byte]));
        await sleep(1);
      }
      const reply = bytes[0] === 0x50 ? renderReply((await raw.nextReplies(1, 2))[0]!) : (await raw.lines(1))[0];
      assert.equal(reply, "203.0.113.7:51234");
    }
    assert.equal(server.stats().errorsTotal, 0);
  });

  it("the header and 3,000 pipelined commands in one write (past one read's 64 KiB): every reply, in order", async () => {
    const { server, port } = await start({ proxyProtocol: true });
    const raw = await client(port);
    const count = 3000;
    const echoes = Array.from({ length: count }, (_, i) => resp("ECHO", `message-${i}-${"x".repeat(20)}`));
    const bytes = Buffer.concat([proxyV2(A), ...echoes]);
    assert.ok(bytes.length > 64 * 1024);
    raw.write(bytes);
    const replies = (await raw.nextReplies(count, 2, 30_000)).map(renderReply);
    assert.deepEqual(replies, Array.from({ length: count }, (_, i) => `message-${i}-${"x".repeat(20)}`));
    assert.equal(server.stats().errorsTotal, 0);
  });

  it("LOCAL (a proxy's own health check) and UNKNOWN keep the socket's address", async () => {
    const { port } = await start({ proxyProtocol: true });
    const local = await client(port);
    local.write(Buffer.concat([proxyV2(A, { command: 0 }), resp("whoami")]));
    assert.match(renderReply((await local.nextReplies(1, 2))[0]!), /^127\.0\.0\.1:\d+$/);
    const unknown = await client(port);
    unknown.write("PROXY UNKNOWN\r\nPING\r\n");
    assert.deepEqual(await unknown.lines(1), ["+PONG"]);
  });

  it("the login budget is charged to the client's address: one locked out, the other not", async () => {
    const { port } = await start({ proxyProtocol: true });
    const guesser = { ...A, source: { address: "198.51.100.1", port: 1000 } };
    const other = { ...A, source: { address: "198.51.100.2", port: 1000 } };
    const first = await client(port);
    first.write(Buffer.concat([proxyV1(guesser), resp("AUTH", "alice", "wrong"), resp("AUTH", "alice", "wrong"), resp("AUTH", "alice", "right")]));
    const replies = (await first.nextReplies(3, 2)).map(renderReply);
    assert.match(replies[0]!, /^-WRONGPASS/);
    assert.match(replies[2]!, /^-WRONGPASS/, "the right password is refused: this address spent its budget");
    // Another connection of the same client (same header address) is locked out too...
    const again = await client(port);
    again.write(Buffer.concat([proxyV1(guesser), resp("AUTH", "alice", "right")]));
    assert.match(renderReply((await again.nextReplies(1, 2))[0]!), /^-WRONGPASS/);
    // ...while another client through the same proxy (same socket address) is not.
    const innocent = await client(port);
    innocent.write(Buffer.concat([proxyV1(other), resp("AUTH", "alice", "right")]));
    assert.equal(renderReply((await innocent.nextReplies(1, 2))[0]!), "+OK");
  });
});

describe("refusals", () => {
  it("no header, garbage, a non-proxy RESP client, a truncated header then silence, a huge v2 length: each closed, logged, counted; others go on", async () => {
    const { server, port, log } = await start({ proxyProtocol: true, proxyHeaderTimeout: 300, metrics: true });
    const good = await client(port);
    good.write(proxyV1(A));
    good.write(resp("whoami"));
    assert.equal(renderReply((await good.nextReplies(1, 2))[0]!), "203.0.113.7:51234");

    const attempts: [string, Buffer | string, RegExp][] = [
      ["no header", "whoami\r\n", /not a PROXY protocol header/],
      ["RESP", resp("PING"), /not a PROXY protocol header/],
      ["garbage", Buffer.from([0x16, 0x03, 0x01, 0x00]), /not a PROXY protocol header/],
      ["bad v1", "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\nPING\r\n", /port/],
      ["huge v2", proxyV2(null, { length: 0xffff }).subarray(0, 16), /longer than/],
      ["truncated", "PROXY TCP4 1.2", /within 300 ms/],
    ];
    for (const [what, bytes, reason] of attempts) {
      const raw = await client(port);
      raw.write(bytes);
      await raw.closed(5000);
      assert.equal(raw.text, "", `${what}: nothing is written before the close`);
      const line = log.filter((l) => l.msg.startsWith("connection refused: PROXY protocol")).at(-1);
      assert.match(String(line?.reason), reason, what);
      assert.equal(line?.remoteAddress, "127.0.0.1", what);
      assert.equal(typeof line?.remotePort, "number", what);
      assert.equal(line?.level, 40, `${what} is a warning`);
    }
    assert.equal(server.stats().connectionsRejected, attempts.length);
    assert.equal(await rejectedMetric(server), String(attempts.length));
    // The client already in goes on, and the refused bytes never became commands anywhere.
    good.write(resp("whoami"));
    assert.equal(renderReply((await good.nextReplies(1, 2))[0]!), "203.0.113.7:51234");
    assert.equal(server.stats().errorsTotal, 0);
    assert.equal(server.stats().commandCounts.ping, undefined);
  });

  it("a socket that closes before its header (a TCP probe) is logged at debug, not counted", async () => {
    const { server, port, log } = await start({ proxyProtocol: true });
    for (const bytes of ["", "PROXY TCP4 1.2"]) {
      const raw = await client(port);
      if (bytes) raw.write(bytes);
      raw.socket.end();
      await eventually(() => log.filter((l) => l.msg === "closed before its PROXY header").length === (bytes ? 2 : 1), 5000, "the debug line");
    }
    assert.equal(server.stats().connectionsRejected, 0);
    assert.equal(log.filter((l) => l.level >= 40).length, 0);
  });

  it("a flood of bad clients logs a few lines, not one each, and counts every one", async () => {
    const { server, port, log } = await start({ proxyProtocol: true });
    const flood = 40;
    for (let i = 0; i < flood; i++) {
      const raw = await client(port);
      raw.write("GET / HTTP/1.0\r\n\r\n");
      await raw.closed(5000);
    }
    const warnings = log.filter((l) => l.msg.startsWith("connection refused: PROXY protocol"));
    assert.equal(warnings.length, 10);
    assert.match(warnings.at(-1)!.msg, /counted, not logged/);
    assert.equal(server.stats().connectionsRejected, flood);
  });

  it("allowFrom: a source outside the list is refused even with a valid header; inside it (IPv4-mapped too) is served", async () => {
    const outside = await start({ proxyProtocol: { allowFrom: ["10.0.0.0/8", "192.0.2.1"] } });
    const refused = await client(outside.port);
    refused.write(Buffer.concat([proxyV1(A), resp("whoami")]));
    await refused.closed(5000);
    assert.equal(refused.text, "");
    assert.match(String(outside.log.find((l) => l.msg.startsWith("connection refused"))?.reason), /allowFrom/);
    assert.equal(outside.server.stats().connectionsRejected, 1);

    // Listening on :: the socket's address is ::ffff:127.0.0.1, which 127.0.0.0/8 covers.
    const server = new RetopyServer(app, { logger: false, proxyProtocol: { allowFrom: ["127.0.0.0/8"] } });
    servers.push(server);
    const { port } = await server.listen({ port: 0, host: "::" });
    const inside = await client(port);
    inside.write(Buffer.concat([proxyV1(A), resp("whoami")]));
    assert.equal(renderReply((await inside.nextReplies(1, 2))[0]!), "203.0.113.7:51234");
  });

  it("bad allowFrom entries are refused when the server is made", () => {
    for (const allowFrom of [[], ["10.0.0.0/33"], ["localhost"], ["1.2.3.4/8/8"], ["fe80::1%eth0"], [42]]) {
      assert.throws(() => new RetopyServer(app, { logger: false, proxyProtocol: { allowFrom: allowFrom as string[] } }), /allowFrom/, JSON.stringify(allowFrom));
    }
    assert.throws(() => new RetopyServer(app, { logger: false, proxyProtocol: "yes" as unknown as boolean }), /proxyProtocol must be/);
  });

  it("sockets waiting for their header count toward maxConnections, and close() cuts them", async () => {
    const { server, port } = await start({ proxyProtocol: true, maxConnections: 2, proxyHeaderTimeout: 0 });
    const waiting = [await client(port), await client(port)];
    // The server accepts in order: these two are waiting when the third comes.
    const third = await client(port);
    third.write(Buffer.concat([proxyV1(A), resp("whoami")]));
    await third.closed(5000);
    assert.equal(third.text, "");
    // Without the cut, close() would never resolve: the listener waits for every socket it
    // accepted, and these have no header timeout.
    const result = await server.close({ timeout: 60_000 });
    assert.deepEqual(result, { droppedCommands: 0, connectionsCut: 0 });
    for (const raw of waiting) await raw.closed(5000);
  });
});

describe("TLS behind the header", () => {
  it("the PROXY header comes before the TLS handshake, as HAProxy sends it to an ssl server", async () => {
    const certificate = selfSignedCertificate();
    const { port, server } = await start({ proxyProtocol: true }, { tls: { key: certificate.key, cert: certificate.cert } });
    for (const header of [proxyV1(A), proxyV2(A)]) {
      const raw: Socket = tcpConnect({ port, host: "127.0.0.1" });
      clients.push(raw);
      await once(raw, "connect");
      raw.write(header);
      const secure = tlsConnect({ socket: raw, ca: certificate.cert, servername: "localhost" });
      clients.push(secure);
      await once(secure, "secureConnect");
      let received = "";
      secure.on("data", (chunk: Buffer) => (received += chunk.toString()));
      secure.write(resp("whoami"));
      await eventually(() => received.includes("\r\n", 1), 5000, "the reply");
      assert.equal(received, "$17\r\n203.0.113.7:51234\r\n");
      secure.destroy();
    }
    // A TLS client without a header is refused before any handshake.
    const direct = tlsConnect({ port, host: "127.0.0.1", ca: certificate.cert, servername: "localhost" });
    clients.push(direct);
    const [error] = (await once(direct, "error")) as [Error];
    assert.match(error.message, /socket disconnected|ECONNRESET/);
    assert.equal(server.stats().connectionsRejected, 1);
  });
});
