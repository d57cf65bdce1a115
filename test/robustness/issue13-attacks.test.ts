/**
 * Attacks on the hooks, command statistics, metrics, PING/ECHO and reply checks added for
 * issue 13, as a hostile client, a careless handler and a slow network would make them,
 * over real TCP on 127.0.0.1. Each test names what it attacks and what must hold.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { once } from "node:events";
import { connect, createServer, type AddressInfo } from "node:net";
import { Application, RetopyServer } from "../../src/index.js";
import { eventually, useTestBed } from "../support.js";

describe("issue 13 attacks: connection hooks", () => {
  const bed = useTestBed();

  it("a client that leaves while an async onConnect runs: onClose runs after onConnect is done, never before", async () => {
    const app = new Application();
    app.command("hello", {}, () => "world");
    const events: string[] = [];
    app.addHook("onConnect", async () => {
      events.push("connect start");
      await sleep(100);
      events.push("connect end");
    });
    app.addHook("onClose", (_connection, reason) => void events.push(`close ${reason}`));
    const port = await bed.serve(app);
    const client = await bed.open(port);
    client.send("hello"); // pipelined behind the hook, then the client leaves mid-hook
    await eventually(() => events.length === 1);
    client.close();
    await eventually(() => events.length === 3, 3000, "onConnect and onClose");
    assert.deepEqual(events, ["connect start", "connect end", "close client_closed"]);
  });
});

/** A port nothing listens on now (bound then released). */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** True if something accepts TCP connections on 127.0.0.1:port. */
async function accepting(port: number): Promise<boolean> {
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "connect");
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

describe("issue 13 attacks: the metrics endpoint's life", () => {
  it("a listen() that fails (its port is taken) leaves no metrics endpoint listening behind it", async () => {
    const taken = createServer().listen(0, "127.0.0.1");
    await once(taken, "listening");
    const metricsPort = await freePort();
    const server = new RetopyServer(new Application(), { logger: false, metrics: { port: metricsPort } });
    try {
      await assert.rejects(server.listen({ port: (taken.address() as AddressInfo).port, host: "127.0.0.1" }), /EADDRINUSE/);
      assert.equal(await accepting(metricsPort), false, "the metrics endpoint of a server that never listened still accepts (and holds the process open)");
    } finally {
      await server.close({ timeout: 500 });
      taken.close();
    }
  });

  it("close() while listen() still loads prom-client: no metrics endpoint is left listening after both settle", async () => {
    const metricsPort = await freePort();
    const server = new RetopyServer(new Application(), { logger: false, metrics: { port: metricsPort } });
    const listening = server.listen({ port: 0, host: "127.0.0.1" });
    await server.close({ timeout: 500 });
    await assert.rejects(listening, /closed/);
    assert.equal(await accepting(metricsPort), false, "a metrics endpoint outlived the server's close()");
  });
});
