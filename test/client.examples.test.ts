/**
 * retopy's client against the examples as users run them: `retopy serve examples/counter.ts`
 * and `retopy serve examples/chat.ts` as real child processes, plain TCP and TLS.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { RetopyClient } from "../src/client/index.js";
import { ChildServers } from "./robustness/child-server.js";
import { eventually } from "./support.js";
import { selfSignedCertificate } from "./tls-support.js";

const children = new ChildServers();
const clients: RetopyClient[] = [];
after(() => {
  for (const client of clients) client.destroy();
  children.killAll();
});

async function connect(options: Parameters<typeof RetopyClient.connect>[0]): Promise<RetopyClient> {
  const client = await RetopyClient.connect(options);
  clients.push(client);
  return client;
}

describe("RetopyClient against the examples", () => {
  it("examples/counter.ts: the original README's commands, a login and a pipeline", async () => {
    const port = await children.start("examples/counter.ts").port();
    const client = await connect({ port });
    assert.equal(await client.call("increment", "a"), 1);
    assert.equal(await client.call("increment", "a"), 2);
    await assert.rejects(client.call("get", "nope"), (error: Error & { code?: string }) => error.code === "ERR" && /nope Not found/.test(error.message));
    await assert.rejects(client.call("auth_test"), (error: Error & { code?: string }) => error.code === "NOAUTH");
    assert.equal(await client.call("authenticate", "myusername", "mypass"), "OK");
    assert.equal(await client.call("auth_test"), "authorized to run this command");
    const pipeline = client.pipeline();
    for (let i = 0; i < 1000; i++) pipeline.call("increment", "p");
    const results = await pipeline.exec();
    assert.deepEqual(
      results.map((result) => ("value" in result ? result.value : result.error)),
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
  });

  it("examples/counter.ts over TLS, logged in at connect", async () => {
    const { cert, certPath, keyPath } = selfSignedCertificate();
    const port = await children.start("examples/counter.ts", ["--tls-cert", certPath, "--tls-key", keyPath]).port();
    const client = await connect({ port, tls: { ca: cert }, user: "myusername", password: "mypass" });
    assert.equal(await client.call("auth_test"), "authorized to run this command");
    assert.equal(await client.call("increment", "tls"), 1);
  });

  it("examples/chat.ts: what one client says in a room reaches another as a push", async () => {
    const port = await children.start("examples/chat.ts").port();
    const ada = await connect({ port });
    const bob = await connect({ port });
    const heard: unknown[][] = [];
    bob.on("push", (values: unknown[]) => heard.push(values));
    assert.equal(await ada.call("nick", "ada"), "OK");
    assert.equal(await bob.call("nick", "bob"), "OK");
    assert.equal(await bob.call("join", "lobby"), "OK");
    assert.equal(await ada.call("join", "lobby"), "OK");
    assert.equal(await ada.call("say", "lobby", "hi", "all"), "OK");
    await eventually(() => heard.some((push) => push.join(" ").includes("ada: hi all")), 3000, "bob to hear ada");
    assert.deepEqual(await bob.call("who", "lobby"), ["bob", "ada"]);
  });
});
