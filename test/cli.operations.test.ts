/**
 * `retopy serve` as an operator runs it: the environment (PORT, HOST, RETOPY_LOG_LEVEL,
 * RETOPY_LOG_FORMAT), a module that fails to load (its stack), pretty logs on a real
 * terminal (the CLI inside `script`, a pseudo-terminal) and JSON on a pipe, the packed
 * package (npm pack) in a fresh project without pino-pretty, and health probes that add no
 * info lines. Real child processes and real TCP on 127.0.0.1; every child is killed in
 * `afterEach`.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { CLI, cliFreeEnv, CliProcess, ROOT } from "./cli-process.js";
import { TextClient } from "./support.js";
import { packRetopy, unpackRetopy } from "./packed.js";

const HAVE_SCRIPT = spawnSync("script", ["--version"], { stdio: "ignore", timeout: 5000 }).status === 0;
const running = new Set<CliProcess>();
const terminals = new Set<ChildProcess>();

function cli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const child = new CliProcess(args, { env });
  running.add(child);
  return child;
}

async function run(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = cli(args, env);
  const { code } = await child.exit();
  return { code, stdout: child.stdout, stderr: child.stderr };
}

/** Opens a TCP connection and closes it at once: what a load balancer's health probe does. */
async function probe(port: number): Promise<void> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.end();
  await once(socket, "close");
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Runs `node <cli> args` on a pseudo-terminal (util-linux `script`), so its stdout is a TTY;
 * `output` is what the terminal showed (stdout and stderr), `stop()` ends it.
 */
function onTerminal(cli: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = cliFreeEnv()) {
  const quoted = [process.execPath, cli, ...args].map((word) => `'${word.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn("script", ["-q", "-e", "-c", quoted, "/dev/null"], { cwd, env, stdio: ["pipe", "pipe", "pipe"], detached: true });
  terminals.add(child);
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const closed = once(child, "close");
  return {
    get output(): string {
      return output;
    },
    async until(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = pattern.exec(output.replace(ANSI, ""));
        if (found) return found;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${pattern} on the terminal:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGTERM");
      await closed;
    },
  };
}

before(() => {
  const built = spawnSync(process.execPath, [CLI, "--version"], { timeout: 10_000 });
  assert.equal(built.status, 0, `${CLI} does not run: run \`npm run build\` first`);
});

afterEach(() => {
  for (const child of running) child.kill();
  running.clear();
  for (const child of terminals) if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
  terminals.clear();
});

describe("environment variables", () => {
  test("PORT and HOST choose the address; the flags win over them", async () => {
    const byEnv = cli(["serve", "examples/counter.ts"], { PORT: "0", HOST: "127.0.0.2" });
    const listening = await byEnv.waitForLog("listening");
    assert.equal(listening.address, "127.0.0.2");
    const client = await TextClient.connect(listening.port as number, "127.0.0.2");
    assert.equal(await client.command("ping"), "+PONG");
    client.close();

    const byFlag = cli(["serve", "examples/counter.ts", "--port", "0", "--host", "127.0.0.1"], { PORT: "not a port", HOST: "127.0.0.2" });
    assert.equal((await byFlag.waitForLog("listening")).address, "127.0.0.1");
  });

  test("RETOPY_LOG_LEVEL sets the level; --log-level wins over it", async () => {
    const quiet = cli(["serve", "examples/counter.ts", "--port", "0", "--log-level", "info"], { RETOPY_LOG_LEVEL: "silent" });
    await quiet.waitForLog("listening");
    const chatty = cli(["serve", "examples/counter.ts", "--port", "0"], { RETOPY_LOG_LEVEL: "debug" });
    const port = await chatty.port();
    await probe(port);
    const opened = await chatty.waitForLog("connection opened");
    assert.equal(opened.level, 20);
    const silent = await run(["serve", "test/fixtures/not-an-app.ts", "--port", "0"], { RETOPY_LOG_LEVEL: "silent" });
    assert.equal(silent.stdout, "", "RETOPY_LOG_LEVEL=silent: not even a JSON line");
  });

  for (const [name, value, message] of [
    ["PORT", "abc", "PORT must be an integer from 0 to 65535, not 'abc'"],
    ["PORT", "65536", "PORT must be an integer from 0 to 65535, not '65536'"],
    ["RETOPY_LOG_LEVEL", "loud", "RETOPY_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not 'loud'"],
    ["RETOPY_LOG_FORMAT", "xml", "RETOPY_LOG_FORMAT must be one of auto, json, pretty, not 'xml'"],
  ] as const) {
    test(`${name}=${value}: exit 2 naming the variable, before the module loads`, async () => {
      const result = await run(["serve", "test/fixtures/throws-on-load.ts"], { [name]: value });
      assert.equal(result.code, 2);
      assert.equal(result.stderr, `retopy: ${message}\nrun 'retopy --help' for usage\n`);
      assert.equal(result.stdout, "");
    });
  }

  test("an empty variable counts as unset", async () => {
    const server = cli(["serve", "examples/counter.ts", "--port", "0"], { HOST: "", RETOPY_LOG_LEVEL: "", RETOPY_LOG_FORMAT: "" });
    assert.equal((await server.waitForLog("listening")).address, "127.0.0.1");
  });
});

describe("a module that fails to load", () => {
  for (const level of ["info", "trace", "silent"]) {
    test(`throwing at load (--log-level ${level}): the reason on one line, then the stack that points into the module`, async () => {
      const result = await run(["serve", "test/fixtures/throws-on-load.ts", "--port", "0", "--log-level", level]);
      assert.equal(result.code, 1);
      const [first, second, ...stack] = result.stderr.trimEnd().split("\n");
      assert.equal(first, "retopy: cannot load 'test/fixtures/throws-on-load.ts': DATABASE_URL is not set");
      assert.equal(second, "Error: DATABASE_URL is not set");
      assert.match(stack[0]!, /^\s+at readConfiguration \(.*test\/fixtures\/throws-on-load\.ts:8:\d+\)$/, result.stderr);
      assert.equal(result.stdout, "");
    });
  }

  test("a factory that throws: the reason and the stack through the factory", async () => {
    const result = await run(["serve", "test/fixtures/factory-throws.ts", "--port", "0"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^retopy: the default export of 'test\/fixtures\/factory-throws\.ts' threw: store unreachable\nTypeError: store unreachable\n\s+at connectStore \(.*factory-throws\.ts:5:\d+\)\n\s+at createApp /);
  });
});

describe("log format", () => {
  test("a pipe gets JSON lines (auto), and --log-format pretty gives pino-pretty's lines without colour", async () => {
    const json = cli(["serve", "examples/counter.ts", "--port", "0"]);
    await json.port(); // parses every stdout line as JSON
    const pretty = cli(["serve", "examples/counter.ts", "--port", "0", "--log-format", "pretty"]);
    await pretty.waitFor(() => (/INFO \(retopy\): listening/.test(pretty.stdout) ? true : undefined), "a pretty listening line", 15_000);
    assert.ok(!pretty.stdout.includes("\x1b["), "no colour codes on a pipe");
    assert.ok(!pretty.stdout.includes('"msg"'), pretty.stdout);
  });

  test("on a terminal: coloured pretty lines by default, JSON with --log-format json", { skip: HAVE_SCRIPT ? false : "script is not installed" }, async () => {
    const terminal = onTerminal(CLI, ["serve", "examples/counter.ts", "--port", "0"], ROOT);
    const [, port] = await terminal.until(/INFO \(retopy\): listening\r?\n\s+address: "127\.0\.0\.1"\r?\n\s+port: (\d+)/);
    assert.match(terminal.output, /\x1b\[3\dmINFO\x1b\[39m/, "coloured");
    const client = await TextClient.connect(Number(port));
    assert.equal(await client.command("ping"), "+PONG");
    client.close();
    await terminal.stop();

    const asJson = onTerminal(CLI, ["serve", "examples/counter.ts", "--port", "0", "--log-format", "json"], ROOT);
    await asJson.until(/\{"level":30,.*"msg":"listening"\}/);
    await asJson.stop();

    const noColor = onTerminal(CLI, ["serve", "examples/counter.ts", "--port", "0"], ROOT, { ...cliFreeEnv(), NO_COLOR: "1" });
    await noColor.until(/INFO \(retopy\): listening/);
    assert.ok(!noColor.output.includes("\x1b[3"), "NO_COLOR: no colour codes");
    await noColor.stop();
  });

  describe("the packed package (npm pack) in a fresh project without pino-pretty", () => {
    let project = "";
    let cliPath = "";
    before(() => {
      project = mkdtempSync(join(tmpdir(), "retopy-consumer-"));
      unpackRetopy(packRetopy(project), project);
      // Its dependencies as npm would hoist them, but not the optional peer pino-pretty.
      const modules = join(ROOT, "node_modules");
      for (const entry of readdirSync(modules)) {
        if (entry !== "pino-pretty" && entry !== ".bin" && entry !== "retopy") symlinkSync(join(modules, entry), join(project, "node_modules", entry), "dir");
      }
      writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", type: "module", private: true }));
      writeFileSync(join(project, "app.mjs"), 'import { Application } from "retopy";\nexport default new Application().command("hi", {}, () => "hello");\n');
      cliPath = join(project, "node_modules", "retopy", "dist", "src", "cli.js");
      assert.throws(() => createRequire(cliPath).resolve("pino-pretty"), "pino-pretty is really missing");
    });

    after(() => rmSync(project, { recursive: true, force: true }));

    test("on a terminal: JSON lines and one hint line, and the server serves PING and its own command", { skip: HAVE_SCRIPT ? false : "script is not installed" }, async () => {
      const terminal = onTerminal(cliPath, ["serve", "app.mjs"], project, { ...cliFreeEnv(), PORT: "0" });
      const [line] = await terminal.until(/\{"level":30,.*"msg":"listening"\}/);
      const port = (JSON.parse(line) as { port: number }).port;
      const client = await TextClient.connect(port);
      assert.equal(await client.command("hi"), "hello");
      assert.equal(await client.command("ping"), "+PONG");
      client.close();
      const hints = terminal.output.split("\n").filter((l) => l.includes("pino-pretty"));
      assert.equal(hints.length, 1, terminal.output);
      assert.match(hints[0]!, /^retopy: logging JSON lines; install pino-pretty for readable logs on a terminal \(npm i -D pino-pretty\)/);
      await terminal.stop();
    });

    test("--log-format pretty: exit 1 saying what to install; a module that throws: its stack", () => {
      const pretty = spawnSync(process.execPath, [cliPath, "serve", "app.mjs", "--port", "0", "--log-format", "pretty"], {
        cwd: project,
        env: cliFreeEnv(),
        encoding: "utf8",
        timeout: 15_000,
      });
      assert.equal(pretty.status, 1);
      assert.equal(pretty.stderr, "retopy: pretty logs need pino-pretty: npm i -D pino-pretty (or ask for --log-format json)\n");
      writeFileSync(join(project, "broken.mjs"), 'function boot() {\n  throw new Error("no config");\n}\nboot();\nexport default null;\n');
      const broken = spawnSync(process.execPath, [cliPath, "serve", "broken.mjs"], { cwd: project, env: cliFreeEnv(), encoding: "utf8", timeout: 15_000 });
      assert.equal(broken.status, 1);
      assert.match(broken.stderr, /^retopy: cannot load 'broken\.mjs': no config\nError: no config\n\s+at boot \(file:\/\/.*broken\.mjs:2:9\)/);
    });
  });
});

describe("health probes", () => {
  test("at the default level a connect-and-close probe logs nothing; at debug, its open and close", async () => {
    const server = cli(["serve", "examples/counter.ts", "--port", "0"]);
    const port = await server.port();
    for (let i = 0; i < 5; i++) await probe(port);
    // A marker after the probes: once it is logged, anything the probes logged is too.
    server.child.kill("SIGTERM");
    await server.exit(5000);
    assert.deepEqual(server.logs.map((line) => line.msg), ["listening", "shutting down", "server closed"]);

    const debug = cli(["serve", "examples/counter.ts", "--port", "0", "--log-level", "debug"]);
    const debugPort = await debug.port();
    for (let i = 0; i < 3; i++) await probe(debugPort);
    await debug.waitFor(() => (debug.logs.filter((l) => l.msg === "connection closed").length === 3 ? true : undefined), "three closes");
    const lines = debug.logs.filter((l) => l.msg === "connection opened" || l.msg === "connection closed");
    assert.equal(lines.length, 6);
    assert.ok(lines.every((l) => l.level === 20));
  });
});
