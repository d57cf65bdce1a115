/**
 * The `retopy` CLI as users run it: real `node dist/src/cli.js` child processes (so run
 * `npm run build` first; `npm test` does), real TCP on 127.0.0.1. Every wait is bounded and
 * every child is killed in `afterEach`, so a failing test cannot leave a server behind.
 */
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import assert from "node:assert/strict";
import { afterEach, before, describe, test } from "node:test";
import { CliProcess, CLI, type Exit, ROOT } from "./cli-process.js";
import { TextClient } from "./support.js";

const running = new Set<CliProcess>();

function cli(...args: string[]): CliProcess {
  const child = new CliProcess(args);
  running.add(child);
  return child;
}

/** Runs a CLI that is expected to exit by itself. */
async function run(...args: string[]): Promise<Exit & { stdout: string; stderr: string }> {
  const child = cli(...args);
  const exit = await child.exit();
  return { ...exit, stdout: child.stdout, stderr: child.stderr };
}

/** A port that was free a moment ago: listen on 0, note the port, close. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, "close");
  return port;
}

/** Connects, retrying while the server is not listening yet (bounded). */
async function connectWhenReady(port: number, timeoutMs = 10_000): Promise<TextClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await TextClient.connect(port);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const clients = new Set<TextClient>();

async function connect(port: number): Promise<TextClient> {
  const client = await TextClient.connect(port);
  clients.add(client);
  return client;
}

before(() => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
});

afterEach(() => {
  for (const client of clients) client.close();
  clients.clear();
  for (const child of running) child.kill();
  running.clear();
});

describe("retopy serve", () => {
  test("serves examples/counter.ts and replays the original README's telnet session byte for byte", async () => {
    const server = cli("serve", "examples/counter.ts", "--port", "0", "--host", "127.0.0.1");
    const client = await connect(await server.port());
    client.send("header line");
    assert.equal(await client.command("increment a"), "1");
    assert.equal(await client.command("increment a"), "2");
    assert.equal(await client.command("increment b"), "1");
    assert.equal(await client.command("increment a"), "3");
    assert.equal(await client.command("rem a"), "+OK");
    assert.equal(await client.command("get a"), "-ERR a Not found");
    assert.equal(client.raw, "1\r\n2\r\n1\r\n3\r\n+OK\r\n-ERR a Not found\r\n");
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`${signal} closes the server and the open connection, then exits 0`, async () => {
      const server = cli("serve", "examples/counter.ts", "--port", "0");
      const client = await connect(await server.port());
      client.send("header line");
      assert.equal(await client.command("increment a"), "1");
      server.child.kill(signal);
      assert.deepEqual(await server.exit(5000), { code: 0, signal: null });
      await client.closed();
      assert.ok(server.logs.some((line) => line.msg === "server closed"), server.stdout);
    });
  }

  test("a second signal while a command is still running exits 1 at once", async () => {
    const server = cli("serve", "test/fixtures/factory-app.ts", "--port", "0");
    const client = await connect(await server.port());
    client.send("hang");
    await server.waitForStderr("hang started");
    server.child.kill("SIGINT");
    await server.waitForLog("shutting down");
    server.child.kill("SIGINT");
    // Well under the 5 s the graceful close would wait for `hang`.
    assert.deepEqual(await server.exit(3000), { code: 1, signal: null });
    assert.ok(!server.logs.some((line) => line.msg === "server closed"));
  });

  test("a default export that is an async factory", async () => {
    const server = cli("serve", "test/fixtures/factory-app.ts", "--port", "0");
    const client = await connect(await server.port());
    assert.equal(await client.command("ping"), "+PONG");
  });

  test("a plain JavaScript module (no tsx) whose default export is a sync factory", async () => {
    const server = cli("serve", "test/fixtures/plain-app.mjs", "--port", "0");
    const client = await connect(await server.port());
    assert.equal(await client.command("ping"), "+PONG");
  });

  test("a named `app` with exported options { handshake: 'none' }", async () => {
    const server = cli("serve", "test/fixtures/options-app.ts", "--port", "0");
    const port = await server.port();
    const first = await connect(port);
    assert.equal(await first.command("ping"), "+PONG");
    const second = await connect(port);
    assert.equal(await second.command("header line"), "-ERR unknown command 'header'");
  });

  test("--handshake overrides the module's options", async () => {
    const server = cli("serve", "test/fixtures/options-app.ts", "--port", "0", "--handshake", "line");
    const client = await connect(await server.port());
    client.send("header line");
    assert.equal(await client.command("ping"), "+PONG");
  });

  test("--log-level silent writes nothing to stdout and still serves", async () => {
    const port = await freePort();
    const server = cli("serve", "examples/counter.ts", "--port", String(port), "--log-level", "silent");
    const client = await connectWhenReady(port);
    clients.add(client);
    client.send("header line");
    assert.equal(await client.command("ping"), "+PONG");
    server.child.kill("SIGTERM");
    assert.deepEqual(await server.exit(5000), { code: 0, signal: null });
    assert.equal(server.stdout, "");
    assert.equal(server.stderr, "");
  });
});

describe("retopy errors and help", () => {
  test("a module that does not exist: exit 1 naming the path", async () => {
    const result = await run("serve", "test/fixtures/missing.ts", "--port", "0");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /test\/fixtures\/missing\.ts/);
    assert.equal(result.stdout, "");
  });

  test("a default export that is not an Application: exit 1 with a one-line message", async () => {
    const result = await run("serve", "test/fixtures/not-an-app.ts", "--port", "0");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^retopy: 'test\/fixtures\/not-an-app\.ts' must export an Application .*default export is an object/);
    assert.equal(result.stderr.trim().split("\n").length, 1);
  });

  test("the port is in use: exit 1 with the error", async () => {
    const blocker = createServer();
    blocker.listen(0, "127.0.0.1");
    await once(blocker, "listening");
    try {
      const { port } = blocker.address() as AddressInfo;
      const result = await run("serve", "examples/counter.ts", "--port", String(port), "--log-level", "silent");
      assert.equal(result.code, 1);
      assert.match(result.stderr, /EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });

  test("no module argument: exit 2 with usage on stderr", async () => {
    const result = await run("serve");
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Usage:/);
    assert.equal(result.stdout, "");
  });

  test("an unknown command: exit 2 with usage on stderr", async () => {
    const result = await run("start", "examples/counter.ts");
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command 'start'/);
    assert.match(result.stderr, /Usage:/);
  });

  for (const port of ["abc", "-1", "65536", "80.5"]) {
    test(`--port ${port}: exit 2`, async () => {
      const result = await run("serve", "examples/counter.ts", `--port=${port}`);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /--port/);
    });
  }

  test("an unknown option: exit 2", async () => {
    const result = await run("serve", "examples/counter.ts", "--prot", "8000");
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--prot/);
  });

  test("--help and `help`: usage on stdout, exit 0", async () => {
    for (const args of [["--help"], ["help"], ["-h"]]) {
      const result = await run(...args);
      assert.equal(result.code, 0, args.join(" "));
      assert.match(result.stdout, /retopy serve <module>/);
      assert.equal(result.stderr, "");
    }
  });

  test("--version prints package.json's version", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const result = await run("--version");
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `${version}\n`);
  });
});
