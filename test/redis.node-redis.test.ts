/**
 * node-redis (the `redis` package), the other widely used Redis client, against a retopy
 * server on 127.0.0.1: its connect handshake (CLIENT SETINFO, HELLO 3 with AUTH and
 * SETNAME, the RESP3 maintenance-notifications probe) must finish without an error event,
 * and then commands, auto-pipelined batches, binary values, errors, logins and pub/sub
 * must behave as they do against Redis.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient, ErrorReply, RESP_TYPES } from "redis";
import {
  Application,
  authenticated,
  CommandError,
  CommandHandler,
  command,
  parameter,
  status,
  type Status,
} from "../src/index.js";
import { eventually, OPEN_PUBSUB, useTestBed } from "./support.js";

class Store extends CommandHandler {
  static readonly values = new Map<string, Buffer>();
  static readonly counters = new Map<string, number>();

  @command({ help: "Replies PONG." })
  ping(): Status {
    return status("PONG");
  }

  @parameter({ name: "key" })
  @parameter({ name: "value", type: "buffer" })
  set(): Status {
    Store.values.set(this.getArgument("key"), this.getBuffer("value")!);
    return status("OK");
  }

  @parameter({ name: "key" })
  get(): Buffer | null {
    return Store.values.get(this.getArgument("key")) ?? null;
  }

  @parameter({ name: "key", help: "the counter's name" })
  increment(): number {
    const key = this.getArgument("key");
    Store.counters.set(key, (Store.counters.get(key) ?? 0) + 1);
    return Store.counters.get(key)!;
  }

  @parameter({ name: "message" })
  fail(): never {
    throw new CommandError(this.getArgument("message"), "WRONGTYPE");
  }

  @parameter()
  facts(): Map<string, number | boolean | null> {
    return new Map<string, number | boolean | null>([
      ["one", 1],
      ["yes", true],
      ["none", null],
    ]);
  }

  @parameter()
  @authenticated
  secret(): string {
    return `hello ${this.connection.user}`;
  }
}

type Client = ReturnType<typeof createClient>;

describe("node-redis (the redis package) against retopy", () => {
  const bed = useTestBed();
  const clients: Client[] = [];
  /** Every "error" event any client emitted; a clean handshake leaves it empty. */
  const errors: Error[] = [];
  let port = 0;

  before(async () => {
    const app = new Application([Store], {
      authenticate: (user, password) => user === "alice" && password === "s3cret",
      builtinLogin: OPEN_PUBSUB,
    });
    port = await bed.serve(app);
  });

  after(async () => {
    for (const client of clients) if (client.isOpen) client.destroy();
  });

  /** Connects once, never reconnects; every error event is recorded. */
  async function connect(options: Parameters<typeof createClient>[0] = {}): Promise<Client> {
    const client = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false }, ...options });
    client.on("error", (error: Error) => errors.push(error));
    clients.push(client);
    await client.connect();
    return client;
  }

  for (const RESP of [2, 3] as const) {
    describe(`RESP${RESP}`, () => {
      it("connects without an error event and answers PING, SET/GET and a custom command", async () => {
        const before = errors.length;
        const client = await connect({ RESP, name: `node-redis-${RESP}` });
        assert.equal(await client.ping(), "PONG");
        assert.equal(await client.set(`k${RESP}`, "héllo"), "OK");
        assert.equal(await client.get(`k${RESP}`), "héllo");
        assert.equal(await client.get("no-such-key"), null);
        assert.equal(await client.sendCommand(["increment", `c${RESP}`]), 1);
        assert.equal(await client.sendCommand(["INCREMENT", `c${RESP}`]), 2);
        // CLIENT SETINFO and SETNAME from the handshake were taken.
        const info = String(await client.sendCommand(["CLIENT", "INFO"]));
        assert.match(info, new RegExp(`name=node-redis-${RESP} `));
        assert.match(info, /lib-name=node-redis /);
        assert.match(info, new RegExp(`resp=${RESP}`));
        assert.deepEqual(errors.slice(before), []);
      });

      it("answers 1,000 auto-pipelined commands in order", async () => {
        const client = await connect({ RESP });
        const key = `pipelined${RESP}`;
        // Commands issued in one tick leave in one write: node-redis's auto-pipelining.
        const replies = await Promise.all(Array.from({ length: 1000 }, () => client.sendCommand(["increment", key])));
        assert.deepEqual(replies, Array.from({ length: 1000 }, (_, i) => i + 1));
      });

      it("round-trips every byte value", async () => {
        const client = await connect({ RESP });
        const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        assert.equal(await client.set(`bin${RESP}`, bytes), "OK");
        const back = await client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get(`bin${RESP}`);
        assert.ok(Buffer.isBuffer(back) && back.equals(bytes), `got ${String(back)}`);
      });

      it("error replies reject with their code; the connection keeps working", async () => {
        const client = await connect({ RESP });
        const replyError = (pattern: RegExp) => (error: unknown) => error instanceof ErrorReply && pattern.test(error.message);
        await assert.rejects(client.sendCommand(["fail", "nope"]), replyError(/^WRONGTYPE nope$/));
        await assert.rejects(client.sendCommand(["nosuch"]), replyError(/^ERR unknown command 'nosuch'/));
        await assert.rejects(client.sendCommand(["secret"]), replyError(/^NOAUTH /));
        assert.equal(await client.ping(), "PONG");
      });

      it("logs in at connect with username and password; a wrong password fails the connect", async () => {
        const client = await connect({ RESP, username: "alice", password: "s3cret" });
        assert.equal(await client.sendCommand(["secret"]), "hello alice");
        const refused = createClient({
          RESP,
          username: "alice",
          password: "wrong",
          socket: { host: "127.0.0.1", port, reconnectStrategy: false },
        });
        refused.on("error", () => undefined);
        await assert.rejects(refused.connect(), /WRONGPASS/);
        if (refused.isOpen) refused.destroy();
      });

      it("subscribes, receives what another client publishes, and unsubscribes", async () => {
        const publisher = await connect({ RESP });
        const subscriber = await connect({ RESP });
        const got: Array<[string, string]> = [];
        await subscriber.subscribe(`news${RESP}`, (message, channel) => got.push([channel, message]));
        assert.equal(await publisher.publish(`news${RESP}`, "hello"), 1);
        await eventually(() => got.length === 1, 3000, "the message");
        assert.deepEqual(got, [[`news${RESP}`, "hello"]]);
        await subscriber.unsubscribe(`news${RESP}`);
        assert.equal(await publisher.publish(`news${RESP}`, "gone"), 0);
      });
    });
  }

  it("RESP3 map, boolean and null replies arrive typed; RESP2 gets them flattened", async () => {
    const resp3 = await connect({ RESP: 3 });
    assert.deepEqual({ ...(await resp3.sendCommand<Record<string, unknown>>(["facts"])) }, { one: 1, yes: true, none: null });
    const resp2 = await connect({ RESP: 2 });
    assert.deepEqual(await resp2.sendCommand(["facts"]), ["one", 1, "yes", 1, "none", null]);
  });
});
