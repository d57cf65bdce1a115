/**
 * `listen()` binds 127.0.0.1 unless told otherwise (as the CLI and Fastify do): a server
 * started with `listen(port)` must not answer on the machine's network addresses. Every
 * interface is an explicit `host: "0.0.0.0"` (or `"::"`).
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { once } from "node:events";
import { networkInterfaces } from "node:os";
import { after, describe, it } from "node:test";
import { Application, type ListenOptions, RetopyServer } from "../src/index.js";
import { TextClient } from "./support.js";

/** A non-loopback IPv4 address of this machine (eth0's, say), or null when it has none. */
function networkAddress(): string | null {
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) if (entry.family === "IPv4" && !entry.internal) return entry.address;
  }
  return null;
}

/** Resolves with the connect error's code, or "connected". */
async function tryConnect(port: number, host: string): Promise<string> {
  const socket = connect(port, host);
  try {
    await once(socket, "connect");
    return "connected";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  } finally {
    socket.destroy();
  }
}

const app = new Application().command("ping", {}, () => "+PONG");
const servers: RetopyServer[] = [];
after(() => Promise.all(servers.map((server) => server.close({ timeout: 1000 }))));

async function listen(options: number | ListenOptions): Promise<number> {
  const server = new RetopyServer(app, { logger: false });
  servers.push(server);
  const address = typeof options === "number" ? await server.listen(options) : await server.listen(options);
  return address.port;
}

const elsewhere = networkAddress();

describe("listen() host", () => {
  it("listen(port) binds 127.0.0.1 and serves there", async () => {
    const server = new RetopyServer(app, { logger: false });
    servers.push(server);
    const address = await server.listen(0);
    assert.equal(address.address, "127.0.0.1");
    const client = await TextClient.connect(address.port, "127.0.0.1");
    assert.equal(await client.command("PING"), "+PONG");
    client.close();
  });

  it("listen({ port }) binds 127.0.0.1 too", async () => {
    const server = new RetopyServer(app, { logger: false });
    servers.push(server);
    assert.equal((await server.listen({ port: 0 })).address, "127.0.0.1");
    assert.equal((await server.listen({ port: 0, host: undefined }).catch((e: Error) => e.message)), "RETOPY_SERVER_STATE: the server is already listening");
  });

  it("listen(port) refuses a client on the machine's network address", { skip: elsewhere === null && "this machine has no non-loopback IPv4 address" }, async () => {
    const port = await listen(0);
    assert.equal(await tryConnect(port, elsewhere!), "ECONNREFUSED");
  });

  it('host "0.0.0.0" serves on the network address as well', { skip: elsewhere === null && "this machine has no non-loopback IPv4 address" }, async () => {
    const port = await listen({ port: 0, host: "0.0.0.0" });
    const client = await TextClient.connect(port, elsewhere!);
    assert.equal(await client.command("PING"), "+PONG");
    client.close();
  });
});
