/**
 * `retopy serve --proxy-protocol` and `--proxy-protocol-from` as a real child process: the
 * flags reach the server, a bad list is a usage error before the module loads, and the
 * flag keeps a module's own allow list.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CliProcess } from "./cli-process.js";
import { RawClient, renderReply, resp } from "./wire.js";

const children: CliProcess[] = [];
const clients: RawClient[] = [];
after(() => {
  for (const client of clients) client.destroy();
  for (const child of children) child.kill();
});

function serve(args: string[]): CliProcess {
  const child = new CliProcess(["serve", ...args]);
  children.push(child);
  return child;
}

async function proxied(port: number, address: string): Promise<RawClient> {
  const client = await RawClient.connect(port);
  clients.push(client);
  client.write(Buffer.concat([Buffer.from(`PROXY TCP4 ${address} 127.0.0.1 4321 ${port}\r\n`), resp("CLIENT", "LIST")]));
  return client;
}

describe("retopy serve --proxy-protocol", () => {
  it("--proxy-protocol-from with the client's source: served, with the header's address", async () => {
    const child = serve(["test/fixtures/proxy-app.ts", "--port", "0", "--proxy-protocol-from", "10.0.0.0/8, 127.0.0.1"]);
    const port = await child.port();
    assert.equal((await child.waitForLog("listening")).proxyProtocol, true);
    const client = await proxied(port, "198.51.100.9");
    assert.match(renderReply((await client.nextReplies(1, 2))[0]!), /addr=198\.51\.100\.9:4321 /);
  });

  it("--proxy-protocol-from without it: refused, logged", async () => {
    const child = serve(["test/fixtures/proxy-app.ts", "--port", "0", "--proxy-protocol-from", "10.0.0.0/8"]);
    const port = await child.port();
    const client = await proxied(port, "198.51.100.9");
    await client.closed(5000);
    const refusal = await child.waitForLog("connection refused: PROXY protocol");
    assert.match(String(refusal.reason), /allowFrom/);
  });

  it("--proxy-protocol keeps the module's allowFrom rather than opening it to everyone", async () => {
    const child = serve(["test/fixtures/proxy-options-app.ts", "--port", "0", "--proxy-protocol"]);
    const port = await child.port();
    const client = await proxied(port, "198.51.100.9");
    await client.closed(5000);
    await child.waitForLog("connection refused: PROXY protocol");
  });

  it("a bad --proxy-protocol-from exits 2 and names it, before the module is loaded", async () => {
    for (const list of ["10.0.0.0/33", "localhost", "10.0.0.1,,10.0.0.2", ""]) {
      const child = serve(["no-such-module.ts", "--proxy-protocol-from", list]);
      const exit = await child.exit();
      assert.equal(exit.code, 2, `${list}: ${child.stderr}`);
      assert.match(child.stderr, /--proxy-protocol-from/);
      assert.doesNotMatch(child.stderr, /cannot find module/);
    }
  });

  it("the help lists both flags", async () => {
    const child = new CliProcess(["--help"]);
    children.push(child);
    await child.exit();
    assert.match(child.stdout, /--proxy-protocol +behind HAProxy/);
    assert.match(child.stdout, /--proxy-protocol-from <list>/);
  });
});
