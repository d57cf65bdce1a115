/**
 * retopy's own client (src/client) against a real RetopyServer on 127.0.0.1: the handshake
 * (HELLO 3, RESP2, AUTH, SETNAME, a header line), every reply type, binary arguments, error
 * replies, a 10,000-call pipeline, pushes between two clients while calls go on, aborted and
 * timed-out calls that must not shift later replies, closing, and TLS with an openssl certificate.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { Application, CommandError, CommandHandler, parameter, passwordAuthenticator, RetopyServer, status } from "../src/index.js";
import { ClientError, type Reply, ReplyError, RetopyClient, type RetopyClientOptions } from "../src/client/index.js";
import { eventually, OPEN_PUBSUB } from "./support.js";
import { selfSignedCertificate } from "./tls-support.js";

const counts = new Map<string, number>();

class Everything extends CommandHandler {
  @parameter({ name: "key" })
  increment() {
    const key = this.getArgument("key");
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return counts.get(key);
  }

  @parameter()
  text() {
    return "héllo wörld";
  }

  @parameter()
  ok() {
    return status("OK");
  }

  @parameter()
  nothing() {
    return null;
  }

  @parameter()
  flag() {
    return true;
  }

  @parameter()
  half() {
    return 0.5;
  }

  @parameter()
  huge() {
    return 2n ** 70n;
  }

  @parameter()
  list() {
    return [1, "two", null, [3]];
  }

  @parameter()
  dict() {
    return new Map<string, number | string>([["a", 1], ["b", "x"]]);
  }

  @parameter()
  tags() {
    return new Set(["red"]);
  }

  @parameter({ name: "value", type: "buffer" })
  echo() {
    return this.getBuffer("value");
  }

  @parameter()
  fail() {
    throw new CommandError("not the right type", "WRONGTYPE");
  }

  @parameter({ name: "ms", type: "int" })
  async slow() {
    const ms = this.getArgument<number>("ms");
    await sleep(ms);
    return `slept ${ms}`;
  }

  @parameter()
  whoami() {
    return this.connection.user;
  }

  @parameter({ name: "key" })
  field() {
    return this.connection.header[this.getArgument("key")] ?? null;
  }
}

const app = new Application([Everything], { authenticate: passwordAuthenticator({ alice: "s3cret" }), authFailureDelay: 0, builtinLogin: OPEN_PUBSUB });

const servers: RetopyServer[] = [];
const clients: RetopyClient[] = [];
after(async () => {
  for (const client of clients) client.destroy();
  await Promise.all(servers.map((server) => server.close({ timeout: 1000 })));
});

async function serve(listen: Parameters<RetopyServer["listen"]>[0] = { port: 0, host: "127.0.0.1" }): Promise<{ server: RetopyServer; port: number }> {
  const server = new RetopyServer(app, { logger: false });
  servers.push(server);
  const { port } = await server.listen(listen);
  return { server, port };
}

async function client(options: RetopyClientOptions): Promise<RetopyClient> {
  const made = await RetopyClient.connect(options);
  clients.push(made);
  return made;
}

/** Resolves the next `count` pushes of `c`, or rejects after `ms`. */
function nextPushes(c: RetopyClient, count: number, ms = 3000): Promise<Reply[][]> {
  return new Promise((resolve, reject) => {
    const got: Reply[][] = [];
    const onPush = (values: Reply[]) => {
      got.push(values);
      if (got.length === count) finish(() => resolve(got));
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`only ${got.length}/${count} pushes: ${JSON.stringify(got)}`))), ms);
    const finish = (then: () => void) => {
      clearTimeout(timer);
      c.off("push", onPush);
      then();
    };
    c.on("push", onPush);
  });
}

const isCode = (code: string, message?: RegExp) => (error: unknown) =>
  (error instanceof ReplyError || error instanceof ClientError) && error.code === code && (message === undefined || message.test(error.message));

describe("RetopyClient", () => {
  let port = 0;
  let server: RetopyServer;

  before(async () => {
    ({ server, port } = await serve());
  });

  it("connects with HELLO 3 and decodes every RESP3 reply type", async () => {
    const c = await client({ port });
    assert.equal(c.protocol, "resp3");
    assert.ok(c.hello instanceof Map);
    assert.equal(c.hello.get("proto"), 3);
    assert.equal(await c.call("increment", "types3"), 1);
    assert.equal(await c.call("text"), "héllo wörld");
    assert.equal(await c.call("ok"), "OK");
    assert.equal(await c.call("nothing"), null);
    assert.equal(await c.call("flag"), true);
    assert.equal(await c.call("half"), 0.5);
    assert.equal(await c.call("huge"), 2n ** 70n);
    assert.deepEqual(await c.call("list"), [1, "two", null, [3]]);
    assert.deepEqual(await c.call("dict"), new Map<string, Reply>([["a", 1], ["b", "x"]]));
    assert.deepEqual(await c.call("tags"), new Set(["red"]));
    assert.equal(await c.call("INCREMENT", 42), 1, "numbers are sent as their decimal text");
  });

  it("connects with protocol resp2 (no HELLO) and decodes the RESP2 shapes", async () => {
    const c = await client({ port, protocol: "resp2" });
    assert.equal(c.hello, null);
    assert.equal(await c.call("increment", "types2"), 1);
    assert.equal(await c.call("text"), "héllo wörld");
    assert.equal(await c.call("nothing"), null);
    assert.equal(await c.call("flag"), 1);
    assert.equal(await c.call("half"), "0.5");
    assert.deepEqual(await c.call("list"), [1, "two", null, [3]]);
    assert.deepEqual(await c.call("dict"), ["a", 1, "b", "x"]);
    assert.deepEqual(await c.call("tags"), ["red"]);
  });

  it("sends Buffers binary-safe and callBuffer returns the bytes, small and 1 MiB", async () => {
    const c = await client({ port });
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    assert.deepEqual(await c.callBuffer("echo", every), every);
    const big = Buffer.alloc(1024 * 1024, every);
    assert.deepEqual(await c.callBuffer("echo", big), big);
    assert.equal(await c.call("echo", Buffer.from("plain ü")), "plain ü");
    assert.deepEqual(await c.callBuffer("list"), [1, Buffer.from("two"), null, [3]]);
  });

  it("error replies reject with ReplyError (code, message) and later calls still work", async () => {
    const c = await client({ port });
    await assert.rejects(c.call("fail"), isCode("WRONGTYPE", /^not the right type$/));
    await assert.rejects(c.call("nope"), isCode("ERR", /unknown command 'nope'/));
    await assert.rejects(c.call("increment"), isCode("ERR", /missing argument 'key'/));
    assert.equal(await c.call("increment", "after-errors"), 1);
  });

  it("10,000 pipelined calls in one write come back in order, errors in their place", async () => {
    const c = await client({ port });
    const pipeline = c.pipeline();
    for (let i = 0; i < 10_000; i++) {
      if (i === 5000) pipeline.call("fail");
      else pipeline.call("increment", "pipe");
    }
    assert.equal(pipeline.length, 10_000);
    const results = await pipeline.exec();
    assert.equal(results.length, 10_000);
    let expected = 0;
    results.forEach((result, i) => {
      if (i === 5000) {
        assert.ok(result.error instanceof ReplyError && result.error.code === "WRONGTYPE");
      } else {
        assert.equal(result.error, undefined);
        assert.equal(result.value, ++expected, `call ${i}`);
      }
    });
    // Plain calls made in one tick are in order too.
    const burst = await Promise.all(Array.from({ length: 10_000 }, () => c.call("increment", "burst")));
    assert.deepEqual(burst, Array.from({ length: 10_000 }, (_, i) => i + 1));
  });

  it("logs in at connect (HELLO AUTH, AUTH for RESP2, a header) and names the connection", async () => {
    const three = await client({ port, user: "alice", password: "s3cret", name: "worker-1" });
    assert.equal(await three.call("whoami"), "alice");
    assert.equal(await three.call("CLIENT", "GETNAME"), "worker-1");
    const two = await client({ port, protocol: "resp2", user: "alice", password: "s3cret", name: "worker-2" });
    assert.equal(await two.call("whoami"), "alice");
    assert.equal(await two.call("CLIENT", "GETNAME"), "worker-2");
    const headed = await client({ port, header: { auth: "alice:s3cret" } });
    assert.equal(await headed.call("whoami"), "alice");
    assert.equal(await headed.call("text"), "héllo wörld", "still RESP after the header line");
    const quoted = await client({ port, header: { app: 'two "quoted" words', path: "C:\\x", plain: "é" } });
    assert.deepEqual(
      await Promise.all(["app", "path", "plain", "proto"].map((key) => quoted.call("field", key))),
      ['two "quoted" words', "C:\\x", "é", "resp3"],
      "values with spaces, quotes or backslashes are quoted",
    );
    const anonymous = await client({ port });
    assert.equal(await anonymous.call("whoami"), null);
  });

  it("a header value with CR or LF stays one value (it once ended the line and ran the rest as a command); a bad key refuses to connect", async () => {
    const sneaky = await client({ port, header: { app: "x\r\nquit\r\n", tab: "a\tb\x01" } });
    assert.equal(await sneaky.call("field", "app"), "x\r\nquit\r\n");
    assert.equal(await sneaky.call("field", "tab"), "a\tb\x01");
    assert.equal(sneaky.isOpen, true, "no quit ran");
    const before = server.connections.size;
    await assert.rejects(RetopyClient.connect({ port, header: { "bad key": "v" } }), TypeError);
    await eventually(() => server.connections.size <= before, 2000, "the refused client's socket to close");
  });

  it("a refused login rejects connect with WRONGPASS and closes the socket", async () => {
    await eventually(() => server.connections.size <= clients.filter((c) => c.isOpen).length, 2000, "earlier clients to settle");
    const before = server.connections.size;
    for (const protocol of ["resp3", "resp2"] as const) {
      await assert.rejects(RetopyClient.connect({ port, protocol, user: "alice", password: "wrong" }), isCode("WRONGPASS"));
    }
    await eventually(() => server.connections.size === before, 2000, "the refused connections to close");
    await assert.rejects(RetopyClient.connect({ port: 1, host: "127.0.0.1" }), /ECONNREFUSED/);
  });

  for (const protocol of ["resp3", "resp2"] as const) {
    it(`${protocol}: pushes from PUBLISH reach a subscriber while its calls continue in order`, async () => {
      const sub = await client({ port, protocol });
      const pub = await client({ port });
      assert.equal(await sub.call("SUBSCRIBE", `news-${protocol}`, `more-${protocol}`), 2);
      const iterator = sub.pushes();
      const pushes = nextPushes(sub, 50);
      const published: Array<Promise<Reply>> = [];
      const increments: Array<Promise<Reply>> = [];
      for (let i = 0; i < 50; i++) {
        published.push(pub.call("PUBLISH", `news-${protocol}`, `m${i}`));
        increments.push(sub.call("increment", `sub-${protocol}`));
        if (i % 10 === 0) await sleep(1); // let messages land between replies
      }
      assert.deepEqual(await Promise.all(published), Array.from({ length: 50 }, () => 1));
      assert.deepEqual(await Promise.all(increments), Array.from({ length: 50 }, (_, i) => i + 1));
      assert.deepEqual(await pushes, Array.from({ length: 50 }, (_, i) => ["message", `news-${protocol}`, `m${i}`]));
      assert.deepEqual((await iterator.next()).value, ["message", `news-${protocol}`, "m0"]);
      assert.equal(await sub.call("UNSUBSCRIBE"), 0, "unsubscribe from all resolves once the count is 0");
      assert.equal(await sub.call("UNSUBSCRIBE"), 0, "and with nothing to unsubscribe");
      assert.equal(await pub.call("PUBLISH", `news-${protocol}`, "nobody"), 0);
      assert.equal(await sub.call("increment", `sub-${protocol}`), 51);
      sub.destroy();
      let rest = 0;
      for await (const _ of iterator) if (++rest > 100) break; // ends on close, after the 49 buffered
      assert.equal(rest, 49);
    });
  }

  it("a timed-out or aborted call rejects and its late reply is dropped, not given to the next call", async () => {
    const c = await client({ port });
    await assert.rejects(c.callWith({ timeout: 30 }, "slow", 200), isCode("TIMEOUT"));
    assert.equal(await c.call("increment", "after-timeout"), 1);

    const controller = new AbortController();
    const aborted = c.callWith({ signal: controller.signal }, "slow", 100);
    const next = c.call("increment", "after-abort");
    setTimeout(() => controller.abort(), 10);
    await assert.rejects(aborted, isCode("ABORTED"));
    assert.equal(await next, 1);
    await assert.rejects(c.callWith({ signal: AbortSignal.abort() }, "increment", "never-counted"), isCode("ABORTED"));
    assert.equal(await c.call("text"), "héllo wörld");
    assert.equal(await c.call("increment", "never-counted"), 1, "a call aborted before it was sent is not sent");
    const results = await c.pipeline().call("slow", 100).call("increment", "after-abort").exec({ timeout: 30 });
    assert.ok(results.every((result) => result.error instanceof ClientError && result.error.code === "TIMEOUT"));
    assert.equal(await c.call("increment", "after-abort"), 3);
  });

  it("close() answers earlier calls, sends QUIT and rejects later calls; destroy() and a server cut reject pending calls", async () => {
    const graceful = await client({ port });
    const pending = graceful.call("slow", 20);
    const closed = once(graceful, "close");
    await graceful.close();
    assert.equal(await pending, "slept 20");
    await closed;
    assert.equal(graceful.isOpen, false);
    await assert.rejects(graceful.call("text"), isCode("CLOSED"));

    const cut = await client({ port });
    const slow = cut.call("slow", 300);
    const queued = cut.call("text");
    cut.destroy();
    await assert.rejects(slow, isCode("CLOSED", /destroyed/));
    await assert.rejects(queued, isCode("CLOSED"));

    const dropped = await client({ port });
    const inFlight = dropped.call("slow", 300);
    await eventually(() => server.connections.size > 0, 1000, "the connection");
    server.closeAllConnections();
    await assert.rejects(inFlight, isCode("CLOSED", /connection closed/));
  });
});

describe("RetopyClient over TLS", () => {
  let cert: Buffer;
  let port = 0;

  before(async () => {
    const made = selfSignedCertificate();
    cert = made.cert;
    ({ port } = await serve({ port: 0, host: "127.0.0.1", tls: { key: made.key, cert } }));
  });

  it("connects with the CA, logs in and pipelines; refuses an untrusted certificate", async () => {
    const c = await client({ port, tls: { ca: cert }, user: "alice", password: "s3cret" });
    assert.equal(await c.call("whoami"), "alice");
    const results = await c.pipeline().call("increment", "tls").call("increment", "tls").callBuffer("echo", Buffer.from([0, 13, 10])).exec();
    assert.deepEqual(results, [{ value: 1 }, { value: 2 }, { value: Buffer.from([0, 13, 10]) }]);
    await assert.rejects(RetopyClient.connect({ port, tls: true }), (error: Error & { code?: string }) => error.code === "DEPTH_ZERO_SELF_SIGNED_CERT");
  });
});
