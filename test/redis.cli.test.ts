/**
 * The real redis-cli and redis-benchmark against a retopy server started in this process.
 *
 * Skipped when redis-cli is not installed, except under CI (`CI` set), where .ci/run is
 * expected to install it and its absence is a failure. The redis-benchmark test is skipped
 * when redis-benchmark alone is missing. Every child process runs with a deadline.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { before, describe, it } from "node:test";
import { Application, authenticated, CommandError, CommandHandler, command, parameter, status, type Status } from "../src/index.js";
import { type ProgramRun, runProgram, useTestBed } from "./support.js";

function installed(tool: string): boolean {
  const probe = spawnSync(tool, ["--version"], { stdio: "ignore", timeout: 5000 });
  return !probe.error && probe.status === 0;
}

const HAVE_CLI = installed("redis-cli");
const HAVE_BENCHMARK = installed("redis-benchmark");
const HAVE_SCRIPT = spawnSync("script", ["--version"], { stdio: "ignore", timeout: 5000 }).status === 0;
const IN_CI = Boolean(process.env.CI);

type Run = ProgramRun;

/** Runs a program to completion (async, so this process's server keeps serving it). */
function run(file: string, args: readonly string[], options: { timeoutMs?: number; input?: string } = {}): Promise<Run> {
  return runProgram(file, args, options);
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** The application the tools talk to: a counter, a small string store, and a login-only command. */
function testApp(): Application {
  const counters = new Map<string, number>();
  const store = new Map<string, Buffer>();

  class Tools extends CommandHandler {
    @parameter({ name: "counter_name", help: "the counter to add one to" })
    @command({ help: "Adds one to a counter and replies its new value." })
    increment(): number {
      const key = this.getArgument("counter_name");
      counters.set(key, (counters.get(key) ?? 0) + 1);
      return counters.get(key)!;
    }

    @parameter({ name: "message", default: null })
    @command({ help: "Replies PONG." })
    ping(): Status | string {
      return this.getArgument<string | null>("message") ?? status("PONG");
    }

    @parameter({ name: "key" })
    @parameter({ name: "value", type: "buffer" })
    set(): Status {
      store.set(this.getArgument("key"), this.getBuffer("value")!);
      return status("OK");
    }

    @parameter({ name: "key" })
    get(): Buffer | null {
      return store.get(this.getArgument("key")) ?? null;
    }

    @parameter({ name: "key" })
    incr(): number {
      const key = this.getArgument("key");
      const old = store.get(key)?.toString() ?? "0";
      if (!/^-?\d+$/.test(old)) throw new CommandError("value is not an integer or out of range");
      store.set(key, Buffer.from(String(Number(old) + 1)));
      return Number(old) + 1;
    }

    @parameter()
    @authenticated
    authed(): string {
      return `hello ${this.connection.user}`;
    }
  }

  return new Application([Tools], { authenticate: (user, password) => user === "alice" && password === "s3cret" });
}

const skip = !HAVE_CLI && !IN_CI ? "redis-cli is not installed" : false;

describe("redis-cli and redis-benchmark against retopy", { skip }, () => {
  const bed = useTestBed();
  let port = 0;

  before(async () => {
    port = await bed.serve(testApp());
  });

  const cli = (...args: string[]) => run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args]);

  it("redis-cli is installed (required under CI)", () => {
    assert.ok(HAVE_CLI, "redis-cli is missing: install redis-tools (.ci/run must do it under CI)");
  });

  it("prints raw replies when stdout is not a tty, and Redis-style ones with --no-raw", async () => {
    assert.equal((await cli("increment", "a")).stdout, "1\n");
    assert.equal((await cli("increment", "a")).stdout, "2\n");
    assert.equal((await cli("--no-raw", "increment", "a")).stdout, "(integer) 3\n");
    assert.equal((await cli("ping")).stdout, "PONG\n");
    assert.equal((await cli("set", "k", "v w")).stdout, "OK\n");
    assert.equal((await cli("--no-raw", "get", "k")).stdout, '"v w"\n');
    assert.equal((await cli("--no-raw", "get", "missing")).stdout, "(nil)\n");
  });

  it("-3 switches to RESP3 with HELLO 3 at connect; HELLO replies the server's facts", async () => {
    const resp3 = await cli("-3", "hello");
    assert.equal(resp3.stderr, "");
    const lines = resp3.stdout.split("\n");
    assert.ok(lines.includes("server retopy"), resp3.stdout);
    assert.ok(lines.includes("proto 3"), resp3.stdout);
    assert.ok(lines.includes("mode standalone"), resp3.stdout);
    const resp2 = await cli("--no-raw", "hello");
    assert.match(resp2.stdout, /"proto"\n\s*\d+\) \(integer\) 2\n/);
    assert.equal((await cli("-3", "--no-raw", "get", "missing")).stdout, "(nil)\n");
  });

  it("reports an unknown command as Redis does", async () => {
    const result = await cli("nosuchcmd");
    assert.match(result.stdout, /^ERR unknown command 'nosuchcmd'/);
  });

  it("-a/--user log in with AUTH; without them an @authenticated command replies NOAUTH", async () => {
    const ok = await cli("--no-auth-warning", "--user", "alice", "-a", "s3cret", "authed");
    assert.equal(ok.stdout, "hello alice\n");
    assert.equal(ok.stderr, "");
    const resp3 = await cli("--no-auth-warning", "--user", "alice", "-a", "s3cret", "-3", "authed");
    assert.equal(resp3.stdout, "hello alice\n");
    const refused = await cli("authed");
    assert.match(refused.stdout, /^NOAUTH Authentication required/);
    const wrong = await cli("--no-auth-warning", "--user", "alice", "-a", "nope", "authed");
    assert.match(wrong.stderr, /AUTH failed: WRONGPASS invalid username-password pair/);
    assert.doesNotMatch(wrong.stdout, /hello/);
  });

  it("-n 0 selects database 0; -n 1 is refused", async () => {
    assert.equal((await cli("-n", "0", "ping")).stdout, "PONG\n");
    const refused = await cli("-n", "1", "ping");
    assert.match(refused.stderr, /SELECT 1 failed: ERR DB index is out of range/);
  });

  it("COMMAND DOCS and redis-cli's own help describe a command's parameters", async () => {
    const docs = await cli("COMMAND", "DOCS", "increment");
    const lines = docs.stdout.split("\n");
    assert.equal(lines[0], "increment");
    assert.ok(lines.includes("counter_name"), docs.stdout);
    assert.ok(lines.includes("Adds one to a counter and replies its new value."), docs.stdout);
    // `redis-cli help <command>` parses COMMAND DOCS with the code that builds its hints.
    const help = await cli("help", "increment");
    const text = help.stdout.replace(ANSI, "");
    assert.match(text, /INCREMENT counter_name\r?\n/);
    assert.match(text, /summary: Adds one to a counter and replies its new value\./);
    const hello = (await cli("help", "hello")).stdout.replace(ANSI, "");
    assert.match(hello, /HELLO \[protover \[AUTH username password\] \[SETNAME clientname\]\]/);
    const setinfo = (await cli("help", "client", "setinfo")).stdout.replace(ANSI, "");
    assert.match(setinfo, /CLIENT SETINFO LIB-NAME libname\|LIB-VER libver/);
  });

  it("interactive redis-cli shows the parameter hint after the command name", { skip: HAVE_SCRIPT ? false : "script(1) is not installed" }, async () => {
    // script(1) gives redis-cli a terminal; the fixed size spares linenoise a cursor query.
    const child = spawn("script", ["-qfec", `stty cols 200 rows 50; redis-cli -h 127.0.0.1 -p ${port}`, "/dev/null"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    const waitFor = async (what: string, predicate: () => boolean): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output: ${JSON.stringify(output)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    try {
      await waitFor("the prompt", () => output.includes(`127.0.0.1:${port}> `));
      child.stdin.write("increment ");
      // linenoise draws the hint in grey after what was typed.
      await waitFor("the hint", () => /increment \x1b\[[0-9;]*mcounter_name/.test(output));
      child.stdin.write("\x15quit\r");
      await Promise.race([closed, waitFor("redis-cli to exit", () => child.exitCode !== null)]);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("INFO, CONFIG GET and CLIENT answer as redis-cli expects", async () => {
    const info = (await cli("info")).stdout;
    assert.match(info, /^# Server\r?\nredis_version:/);
    assert.match(info, /connected_clients:\d+/);
    assert.equal((await cli("config", "get", "save")).stdout, "save\n\n");
    assert.equal((await cli("config", "get", "appendonly")).stdout, "appendonly\nno\n");
    assert.match((await cli("client", "info")).stdout, /^id=\d+ addr=127\.0\.0\.1:\d+ name= /);
    assert.match((await cli("client", "setname", "a b")).stdout, /^ERR Client names cannot contain spaces/);
  });

  it(
    "redis-benchmark runs clean: no error replies, no CONFIG warning",
    { skip: HAVE_BENCHMARK ? false : "redis-benchmark is not installed", timeout: 90_000 },
    async () => {
      const tests = ["ping_inline", "ping_mbulk", "set", "get", "incr"];
      const result = await run(
        "timeout",
        ["60", "redis-benchmark", "-h", "127.0.0.1", "-p", String(port), "-q", "-n", "2000", "-t", tests.join(",")],
        { timeoutMs: 75_000 },
      );
      const output = `${result.stdout}\n${result.stderr}`;
      assert.equal(result.code, 0, output);
      assert.doesNotMatch(output, /ERR/);
      assert.doesNotMatch(output, /Could not fetch server CONFIG/);
      // -q ends each test with "NAME: N requests per second" (after \r-separated progress).
      for (const name of ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR"]) {
        assert.match(output, new RegExp(`${name}: [\\d.]+ requests per second`), output);
      }
    },
  );
});
