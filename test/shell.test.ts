/**
 * `retopy connect`, the shell, as a real child process (`node dist/src/cli.js`, built by
 * `npm test`) against a real RetopyServer on 127.0.0.1: one command from the command line,
 * commands piped on stdin, usage errors and exit codes, login, RESP2, TLS with an openssl
 * certificate, pushes, and an interactive session on a real pseudo-terminal driven by tmux.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Application, CommandError, CommandHandler, parameter, passwordAuthenticator, RetopyServer } from "../src/index.js";
import { OPEN_PUBSUB, runProgram } from "./support.js";
import { RetopyClient } from "../src/client/index.js";
import { CLI, ROOT } from "./cli-process.js";
import { selfSignedCertificate } from "./tls-support.js";

/** Retries `assertion` every 20 ms until it passes; after `timeoutMs` its last failure is thrown. */
async function eventually(assertion: () => void, { timeout: timeoutMs }: { timeout: number }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return assertion();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

const counts = new Map<string, number>();

class ShellCommands extends CommandHandler {
  @parameter({ name: "key", help: "the counter's name" })
  increment() {
    const key = this.getArgument("key");
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return counts.get(key);
  }

  @parameter({ name: "value" })
  echo() {
    return this.getArgument("value");
  }

  @parameter()
  nothing() {
    return null;
  }

  @parameter()
  list() {
    return [1, "two", null, [3, "four"]];
  }

  @parameter()
  dict() {
    return new Map<string, number | string>([["a", 1], ["b", "x"]]);
  }

  @parameter()
  fail() {
    throw new CommandError("not the right type", "WRONGTYPE");
  }

  @parameter()
  whoami() {
    return this.connection.user;
  }
}

const app = new Application([ShellCommands], { authenticate: passwordAuthenticator({ alice: "s3cret" }), authFailureDelay: 0, builtinLogin: OPEN_PUBSUB });
const servers: RetopyServer[] = [];
let port = 0;

async function serve(listen: Parameters<RetopyServer["listen"]>[0]): Promise<number> {
  const server = new RetopyServer(app, { logger: false });
  servers.push(server);
  return (await server.listen(listen)).port;
}

before(async () => {
  assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
  port = await serve({ port: 0, host: "127.0.0.1" });
});
after(async () => {
  await Promise.all(servers.map((server) => server.close({ timeout: 1000 })));
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `retopy connect ...args` with `input` on stdin (not a TTY); killed after 5 s. */
async function connect(args: readonly string[], input = "", env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const { code, stdout, stderr } = await runProgram(process.execPath, [CLI, "connect", ...args], {
    cwd: ROOT,
    env: { ...process.env, RETOPY_PASSWORD: "", RETOPY_HISTORY: "", ...env },
    input,
    timeoutMs: 5000,
  });
  return { code, stdout, stderr };
}

describe("retopy connect with a command", () => {
  it("prints the reply the way redis-cli does and exits 0", async () => {
    const first = await connect([String(port), "increment", "one-shot"]);
    assert.deepEqual(first, { code: 0, stdout: "(integer) 1\n", stderr: "" });
    const second = await connect([`127.0.0.1:${port}`, "increment", "one-shot"]);
    assert.equal(second.stdout, "(integer) 2\n");
    assert.equal((await connect([String(port), "echo", 'say "hi"\n'])).stdout, '"say \\"hi\\"\\n"\n');
    assert.equal((await connect([String(port), "nothing"])).stdout, "(nil)\n");
    assert.equal((await connect([String(port), "list"])).stdout, '1) (integer) 1\n2) "two"\n3) (nil)\n4) 1) (integer) 3\n   2) "four"\n');
    assert.equal((await connect([String(port), "dict"])).stdout, '1) "a" => (integer) 1\n2) "b" => "x"\n');
  });

  it("passes words that look like flags after the command to the server", async () => {
    assert.equal((await connect([String(port), "echo", "--tls"])).stdout, '"--tls"\n');
  });

  it("prints an error reply on stderr and exits 1", async () => {
    const run = await connect([String(port), "fail"]);
    assert.deepEqual(run, { code: 1, stdout: "", stderr: "(error) WRONGTYPE not the right type\n" });
    const unknown = await connect([String(port), "no-such-command"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^\(error\) ERR unknown command 'no-such-command'/);
  });

  it("exits 1 when it cannot connect", async () => {
    const closed = await serve({ port: 0, host: "127.0.0.1" });
    await servers.pop()!.close();
    const run = await connect([String(closed), "increment", "x"]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    assert.match(run.stderr, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED`));
  });

  it("exits 2 on a usage error", async () => {
    for (const [args, message] of [
      [[], /connect needs \[host:\]port/],
      [["nope"], /not 'nope'/],
      [["127.0.0.1:70000"], /from 1 to 65535/],
      [["--bogus", String(port)], /unknown connect option '--bogus'/],
      [[String(port), "--user"], /needs a value/],
      [["--user", "alice", String(port), "whoami"], /--user needs --password/],
    ] as const) {
      const run = await connect(args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, "");
    }
  });

  it("logs in with --user and --password, or the password from RETOPY_PASSWORD", async () => {
    assert.equal((await connect(["--user", "alice", "--password", "s3cret", String(port), "whoami"])).stdout, '"alice"\n');
    assert.equal((await connect(["--user", "alice", String(port), "whoami"], "", { RETOPY_PASSWORD: "s3cret" })).stdout, '"alice"\n');
    const refused = await connect(["--user", "alice", "--password", "wrong", String(port), "whoami"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot log in to 127\.0\.0\.1:\d+: \(error\) WRONGPASS/);
  });

  it("speaks RESP2 with --resp2 (a map arrives flattened)", async () => {
    assert.equal((await connect(["--resp2", String(port), "dict"])).stdout, '1) "a"\n2) (integer) 1\n3) "b"\n4) "x"\n');
  });

  it("connects with --tls and --cacert", async () => {
    const made = selfSignedCertificate();
    const tlsPort = await serve({ port: 0, host: "127.0.0.1", tls: { key: made.key, cert: made.cert } });
    assert.equal((await connect(["--tls", "--cacert", made.certPath, String(tlsPort), "echo", "secure"])).stdout, '"secure"\n');
    const untrusted = await connect(["--tls", String(tlsPort), "echo", "secure"]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /cannot connect/);
  });

  it("stays after SUBSCRIBE and prints each message as it arrives", async () => {
    const child = spawn(process.execPath, [CLI, "connect", String(port), "subscribe", "news"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    const publisher = await RetopyClient.connect({ port });
    try {
      await eventually(() => assert.equal(stdout, "(integer) 1\n"), { timeout: 5000 });
      assert.equal(await publisher.call("publish", "news", "hello"), 1);
      await eventually(() => assert.equal(stdout, '(integer) 1\n1) "message"\n2) "news"\n3) "hello"\n'), { timeout: 5000 });
    } finally {
      child.kill();
      await publisher.close();
    }
  });
});

describe("retopy connect with commands on stdin", () => {
  it("runs one command per line, with redis-cli's quoting, and exits 0", async () => {
    const run = await connect([String(port)], 'increment piped\n\necho "a b\\tc"\necho \'single quoted\'\nincrement piped\n');
    assert.deepEqual(run, { code: 0, stdout: '(integer) 1\n"a b\\tc"\n"single quoted"\n(integer) 2\n', stderr: "" });
  });

  it("prints help as plain lines", async () => {
    const run = await connect([String(port)], "help increment\n");
    assert.equal(run.stdout, "Usage: increment key\nArguments description:\n  key the counter's name\n");
  });

  it("keeps going after an error reply, and exits 1", async () => {
    const run = await connect([String(port)], 'echo before\nfail\necho "unbalanced\necho after\n');
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '"before"\n"after"\n');
    assert.equal(run.stderr, "(error) WRONGTYPE not the right type\n(error) ERR Protocol error: unbalanced quotes\n");
  });
});

const hasTmux = spawnSync("tmux", ["-V"], { stdio: "ignore" }).status === 0;

describe("retopy connect on a terminal (tmux)", { skip: !hasTmux && !process.env.CI ? "tmux is not installed" : false }, () => {
  const session = `retopy-shell-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), "retopy-shell-"));
  const history = join(dir, "history");
  const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8", timeout: 5000 });
  const screen = () => tmux("capture-pane", "-p", "-t", session);
  const alive = () => spawnSync("tmux", ["has-session", "-t", session], { stdio: "ignore" }).status === 0;
  /** Waits (at most 5 s) until the screen's lines, trailing spaces cut, satisfy `check`. */
  const screenShows = (check: (lines: string[]) => boolean, what: string) =>
    eventually(() => {
      const lines = screen().split("\n").map((line) => line.trimEnd());
      assert.ok(check(lines), `${what}; the screen:\n${lines.join("\n")}`);
    }, { timeout: 5000 });

  after(() => {
    spawnSync("tmux", ["kill-session", "-t", session], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows the prompt, completes, hints, recalls history and quits", async () => {
    const prompt = `127.0.0.1:${port}> `;
    writeFileSync(history, "echo remembered\n");
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "30", `RETOPY_HISTORY='${history}' '${process.execPath}' '${CLI}' connect ${port}`);
    await screenShows((lines) => lines[0] === prompt.trimEnd(), "the prompt");
    // The history file of an earlier session is there.
    tmux("send-keys", "-t", session, "Up");
    await screenShows((lines) => lines[0] === `${prompt}echo remembered`, "the line from the history file");
    tmux("send-keys", "-t", session, "C-u");
    await screenShows((lines) => lines[0] === prompt.trimEnd(), "the cleared line");

    // Tab completes the command name; the hint (the server's `key`) is drawn after it.
    tmux("send-keys", "-t", session, "incr", "Tab");
    await screenShows((lines) => lines[0] === `${prompt}increment key`, "the completion and the hint");
    tmux("send-keys", "-t", session, "tty", "Enter");
    await screenShows((lines) => lines[0] === `${prompt}increment tty` && lines[1] === "(integer) 1" && lines[2] === prompt.trimEnd(), "the reply");

    // Up recalls the last line; running it again counts on (and is kept once in the history).
    tmux("send-keys", "-t", session, "Up");
    await screenShows((lines) => lines[2] === `${prompt}increment tty`, "the recalled line");
    // A line typed ahead, while the previous one runs, waits its turn.
    tmux("send-keys", "-t", session, "Enter", "echo typed-ahead", "Enter");
    await screenShows((lines) => {
      const second = lines.indexOf("(integer) 2");
      return second !== -1 && lines.indexOf('"typed-ahead"') > second;
    }, "the second reply, then the typed-ahead one");

    tmux("send-keys", "-t", session, "quit", "Enter");
    await eventually(() => assert.equal(alive(), false, "the shell exits on quit"), { timeout: 5000 });
    assert.equal(readFileSync(history, "utf8"), "echo remembered\nincrement tty\necho typed-ahead\nquit\n");
  });
});
