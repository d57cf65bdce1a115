/**
 * The public option types accept `undefined` (for `exactOptionalPropertyTypes` users, who
 * write `password: process.env.X`); the runtime must then treat an option given as
 * `undefined` exactly as one left out: defaults apply, nothing is rejected, no login is tried.
 * test/consumer.test.ts compiles such code; this runs it, over real TCP.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, describe, it } from "node:test";
import { Application, RetopyServer } from "../src/index.js";
import { LIMITS } from "../src/limits.js";
import { RetopyClient } from "../src/client/index.js";

const servers: RetopyServer[] = [];
const clients: RetopyClient[] = [];
after(async () => {
  for (const client of clients) client.close();
  await Promise.all(servers.map((server) => server.close({ timeout: 1000 })));
});

describe("options given as undefined are options left out", () => {
  it("server, limits, settings, listen, command spec, client, reconnect and call options", async () => {
    const limits = Object.fromEntries(Object.keys(LIMITS).map((name) => [name, undefined]));
    const app = new Application([], {
      defaultHandlers: undefined,
      debug: undefined,
      authenticate: undefined,
      authFailureDelay: undefined,
      maxAuthFailures: undefined,
      maxAuthFailuresPerAddress: undefined,
      authFailureWindow: undefined,
      requireLogin: undefined,
      builtinLogin: undefined,
      processInfo: undefined,
    }).command(
      "greet",
      { params: [{ name: "name", type: undefined, help: undefined, default: undefined, variadic: undefined }], help: undefined, authenticated: undefined, timeout: undefined },
      (handler) => `hello ${handler.getArgument<string>("name")}`,
    );
    const server = new RetopyServer(app, { ...limits, logger: false, handshake: undefined, inspect: undefined, proxyProtocol: undefined });
    servers.push(server);
    const address = await server.listen({ port: 0, host: undefined, tls: undefined });
    assert.equal(address.address, "127.0.0.1");
    assert.equal(server.inspectorUrl, null);

    const client = await RetopyClient.connect({
      port: address.port,
      host: undefined,
      tls: undefined,
      protocol: undefined,
      user: undefined,
      password: undefined,
      name: undefined,
      header: undefined,
      connectTimeout: undefined,
      reconnect: { initialDelay: undefined, maxDelay: undefined, factor: undefined, maxAttempts: undefined, whileDisconnected: undefined, maxQueue: undefined },
      describe: undefined,
    });
    clients.push(client);
    assert.equal(await client.call("greet", "world"), "hello world");
    assert.equal(await client.callWith({ signal: undefined, timeout: undefined }, "greet", "again"), "hello again");
    // The built-in commands are there (defaultHandlers), and the parameter is still required (no default).
    assert.match(JSON.stringify(await client.call("commands")), /greet/);
    await assert.rejects(client.call("greet"), /missing argument 'name'/);
  });

  it("proxyProtocol: { allowFrom: undefined } accepts a PROXY header from any source", async () => {
    const server = new RetopyServer(new Application([]), { logger: false, proxyProtocol: { allowFrom: undefined } });
    servers.push(server);
    const { port } = await server.listen({ port: 0 });
    const socket = connect({ port, host: "127.0.0.1" });
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    socket.write("PROXY TCP4 192.0.2.9 192.0.2.1 4000 6379\r\n*2\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\n");
    await once(socket, "data");
    socket.destroy();
    assert.match(received, /addr=192\.0\.2\.9:4000 /);
  });
});
