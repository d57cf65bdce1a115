/**
 * Real HAProxy in front of two real `retopy serve --proxy-protocol` processes, run with the
 * very config the deployment guide shows (deploy/haproxy.cfg), once with `send-proxy` (v1)
 * and once with `send-proxy-v2`: round-robin balancing, the client's own address (it binds
 * 127.0.0.2, HAProxy connects from 127.0.0.1), health checks that are PINGs behind their own
 * PROXY header, and clients re-routed when one process is killed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { once } from "node:events";
import { RetopyClient } from "../src/client/index.js";
import { CliProcess, ROOT } from "./cli-process.js";
import { HaproxyProcess } from "./haproxy-support.js";
import { freePort } from "./redis-support.js";
import { proxyV1 } from "./proxy-support.js";
import { decodeReplies, type RespValue } from "./resp-decoder.js";
import { renderReply, resp } from "./wire.js";
import { selfSignedCertificate } from "./tls-support.js";

const CONFIG = join(ROOT, "deploy", "haproxy.cfg");
const TLS_CONFIG = join(ROOT, "deploy", "haproxy-tls.cfg");
const FIXTURE = "test/fixtures/proxy-app.ts";
const CLIENT_ADDRESS = "127.0.0.2";

/** Connects from `localAddress`, sends `commands` as RESP, resolves with the replies and the client's own port. */
async function ask(port: number, commands: string[][], localAddress = CLIENT_ADDRESS, before?: Buffer): Promise<{ replies: string[]; localPort: number }> {
  const socket: Socket = connect({ port, host: "127.0.0.1", localAddress });
  socket.on("error", () => undefined);
  await once(socket, "connect");
  const localPort = socket.localPort!;
  let received = Buffer.alloc(0);
  let replies: RespValue[] = [];
  socket.on("data", (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    try {
      replies = decodeReplies(received);
    } catch {
      // incomplete: more is coming
    }
  });
  socket.write(Buffer.concat([before ?? Buffer.alloc(0), ...commands.map((args) => resp(...args))]));
  const deadline = Date.now() + 10_000;
  while (replies.length < commands.length) {
    if (Date.now() > deadline || socket.destroyed) {
      socket.destroy();
      throw new Error(`no reply to ${JSON.stringify(commands)} through port ${port}; got ${JSON.stringify(received.toString())}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  socket.destroy();
  return { replies: replies.map(renderReply), localPort };
}

function infoField(info: string, name: string): string {
  const value = new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim();
  assert.ok(value, `INFO has ${name}`);
  return value;
}

async function waitForStatus(stats: string, expected: Record<string, string>): Promise<void> {
  const deadline = Date.now() + 15_000;
  let seen: Record<string, string> = {};
  while (Date.now() < deadline) {
    seen = await HaproxyProcess.serverStatus(stats);
    if (Object.entries(expected).every(([server, status]) => seen[server] === status)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`HAProxy's servers never became ${JSON.stringify(expected)}; last seen ${JSON.stringify(seen)}`);
}

describe("HAProxy in front of two retopy processes (deploy/haproxy.cfg)", () => {
  const children: { stop(): void }[] = [];
  const dir = mkdtempSync(join(tmpdir(), "retopy-haproxy-"));
  after(() => {
    for (const child of children) child.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const proxyKeyword of ["send-proxy", "send-proxy-v2"]) {
    it(`${proxyKeyword}: balancing, the real client address, PING health checks, re-routing when a process dies`, async () => {
      const retopy = [0, 1].map(() => new CliProcess(["serve", FIXTURE, "--port", "0", "--proxy-protocol", "--log-level", "debug"]));
      for (const process of retopy) children.push({ stop: () => process.kill() });
      const ports = await Promise.all(retopy.map((process) => process.port()));
      const frontend = await freePort();
      const stats = join(dir, `${proxyKeyword}.sock`);
      const haproxy = await HaproxyProcess.start(CONFIG, {
        RETOPY_BIND: `127.0.0.1:${frontend}`,
        RETOPY_SERVER_1: `127.0.0.1:${ports[0]}`,
        RETOPY_SERVER_2: `127.0.0.1:${ports[1]}`,
        RETOPY_PROXY: proxyKeyword,
        RETOPY_CHECK_INTER: "200ms",
        HAPROXY_STATS: stats,
      }, frontend);
      children.push(haproxy);
      await waitForStatus(stats, { "retopy/retopy1": "UP", "retopy/retopy2": "UP" });

      // Balancing: consecutive connections alternate between the two processes.
      const reached: string[] = [];
      for (let i = 0; i < 4; i++) {
        const { replies, localPort } = await ask(frontend, [["INFO", "server"], ["whoami"], ["CLIENT", "LIST"]]);
        reached.push(infoField(replies[0]!, "process_id"));
        // The client's own address and port, not HAProxy's 127.0.0.1.
        assert.equal(replies[1], `${CLIENT_ADDRESS}:${localPort}`);
        assert.match(replies[2]!, new RegExp(`addr=127\\.0\\.0\\.2:${localPort} `));
      }
      const pids = retopy.map((process) => String(process.child.pid));
      assert.deepEqual(new Set(reached), new Set(pids), `both processes served: ${reached.join(", ")}`);
      for (let i = 1; i < reached.length; i++) assert.notEqual(reached[i], reached[i - 1], `round robin: ${reached.join(", ")}`);
      // retopy's log has the client's address too.
      const opened = retopy.flatMap((process) => process.logs.filter((line) => line.msg === "connection opened").map((line) => line.remoteAddress));
      assert.ok(opened.includes(CLIENT_ADDRESS));

      // The health checks are PINGs (counted by each process), sent with a PROXY header of
      // their own: none of them was refused.
      for (const [i, port] of ports.entries()) {
        const header = proxyV1({ source: { address: "192.0.2.1", port: 1 }, destination: { address: "192.0.2.2", port: 2 } });
        const { replies } = await ask(port, [["INFO", "commandstats"]], "127.0.0.1", header);
        const pings = Number(/cmdstat_ping:calls=(\d+)/.exec(replies[0]!)?.[1] ?? 0);
        assert.ok(pings >= 1, `process ${i + 1} answered PING health checks (${pings})`);
        assert.equal(retopy[i]!.logs.filter((line) => String(line.msg).startsWith("connection refused")).length, 0, `process ${i + 1} refused nothing`);
      }

      // A client with reconnect on, connected through HAProxy to one process, which is killed.
      const client = await RetopyClient.connect({ port: frontend, reconnect: { initialDelay: 50, maxDelay: 200 } });
      children.push({ stop: () => client.close() });
      const first = infoField(String(await client.call("INFO", "server")), "process_id");
      const victim = pids.indexOf(first);
      const survivor = pids[1 - victim]!;
      retopy[victim]!.kill();
      await retopy[victim]!.exit();
      // HAProxy marks it down through its failing checks...
      await haproxy.waitForOutput(new RegExp(`Server retopy/retopy${victim + 1} is DOWN`));
      await waitForStatus(stats, { [`retopy/retopy${victim + 1}`]: "DOWN", [`retopy/retopy${2 - victim}`]: "UP" });
      // ...the client reconnects and lands on the survivor...
      assert.equal(infoField(String(await client.call("INFO", "server")), "process_id"), survivor);
      client.close();
      // ...and every new client goes there.
      for (let i = 0; i < 4; i++) {
        const { replies, localPort } = await ask(frontend, [["INFO", "server"], ["whoami"]]);
        assert.equal(infoField(replies[0]!, "process_id"), survivor);
        assert.equal(replies[1], `${CLIENT_ADDRESS}:${localPort}`);
      }
      haproxy.stop();
      for (const process of retopy) process.kill();
    });
  }

  it("haproxy-tls.cfg: TLS from the client to HAProxy and from HAProxy to retopy, the PROXY header before retopy's handshake", async () => {
    const certificate = selfSignedCertificate();
    const pem = join(dir, "haproxy.pem");
    writeFileSync(pem, Buffer.concat([certificate.cert, certificate.key]));
    const flags = ["--proxy-protocol", "--tls-cert", certificate.certPath, "--tls-key", certificate.keyPath, "--log-level", "debug"];
    const retopy = [0, 1].map(() => new CliProcess(["serve", FIXTURE, "--port", "0", ...flags]));
    for (const process of retopy) children.push({ stop: () => process.kill() });
    const ports = await Promise.all(retopy.map((process) => process.port()));
    const frontend = await freePort();
    const stats = join(dir, "tls.sock");
    const haproxy = await HaproxyProcess.start(TLS_CONFIG, {
      RETOPY_BIND: `127.0.0.1:${frontend}`,
      RETOPY_SERVER_1: `127.0.0.1:${ports[0]}`,
      RETOPY_SERVER_2: `127.0.0.1:${ports[1]}`,
      RETOPY_PROXY: "send-proxy-v2",
      RETOPY_CHECK_INTER: "200ms",
      RETOPY_CA: certificate.certPath,
      HAPROXY_CERT: pem,
      HAPROXY_STATS: stats,
    }, frontend);
    children.push(haproxy);
    await waitForStatus(stats, { "retopy/retopy1": "UP", "retopy/retopy2": "UP" });
    const reached = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const tcp = connect({ port: frontend, host: "127.0.0.1", localAddress: CLIENT_ADDRESS });
      const socket = tlsConnect({ socket: tcp, ca: certificate.cert, servername: "localhost" });
      await once(socket, "secureConnect");
      let received = Buffer.alloc(0);
      let decoded: RespValue[] = [];
      socket.on("data", (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        try {
          decoded = decodeReplies(received);
        } catch {
          // incomplete: more is coming
        }
      });
      socket.write(Buffer.concat([resp("whoami"), resp("INFO", "server")]));
      const deadline = Date.now() + 10_000;
      while (decoded.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      const replies = decoded.map(renderReply);
      assert.equal(replies[0], `${CLIENT_ADDRESS}:${tcp.localPort}`);
      reached.add(infoField(replies[1]!, "process_id"));
      socket.destroy();
    }
    assert.equal(reached.size, 2, "both processes served");
    for (const [i, process] of retopy.entries()) {
      assert.equal(process.logs.filter((line) => String(line.msg).startsWith("connection refused")).length, 0, `process ${i + 1} refused nothing`);
    }
    haproxy.stop();
    for (const process of retopy) process.kill();
  });
});
