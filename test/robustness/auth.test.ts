/**
 * Login safety over real sockets: constant-time comparison, the delay after a failed login
 * (which holds back what is pipelined behind it), the lockout after `maxAuthFailures` on
 * every login path (AUTH, HELLO ... AUTH, a header `auth=` token, an application's own login
 * command), settings validation, and logs that never carry a password.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  Application,
  authenticated,
  CommandError,
  CommandHandler,
  command,
  parameter,
  passwordAuthenticator,
  RetopyError,
  safeEqual,
  type ApplicationSettings,
  type Status,
  status,
} from "../../src/index.js";
import { addressKey } from "../../src/login-budget.js";
import { connectRedis } from "../redis-support.js";
import { eventually, type TextClient, useTestBed } from "../support.js";

const GOOD = "Good-Pw-7f3a";
const WRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled.";
/** Small, so the file stays fast; large enough that a missing delay shows. */
const DELAY = 40;
const MAX = 3;

/** The handshake line a text client opens with: AUTH is not a command that skips it. */
const HEADER = "header line\r\n";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` after `ms`: no wait in this file is unbounded. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A RESP request, as ioredis or redis-cli would send it. */
function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}

class Guarded extends CommandHandler {
  @parameter()
  @authenticated
  whoami(): string {
    return `you are ${this.connection.user}`;
  }

  /** The application's own login command, on the guarded path. */
  @parameter({ name: "username" })
  @parameter({ name: "password" })
  @command({ help: "Logs in: signin username password." })
  async signin(): Promise<string> {
    const user = await this.attemptLogin(this.getArgument("username"), this.getArgument("password"));
    if (!user) throw new CommandError("Wrong username or password");
    return `welcome ${user}`;
  }

  @parameter()
  ping(): Status {
    return status("PONG");
  }

  /** Quotes its argument in the refusal: the log must not. */
  @parameter({ name: "code", type: "int" })
  pin(): number {
    return this.getArgument<number>("code");
  }

  /** An application's own log line with fields retopy's redaction covers. */
  @parameter({ name: "secret" })
  note(): string {
    this.logger.info({ args: this.command.args, form: { password: this.getArgument("secret") } }, "note taken");
    return "noted";
  }
}

const app = (settings: ApplicationSettings = {}) =>
  new Application([Guarded], {
    authenticate: passwordAuthenticator({ alice: GOOD }),
    authFailureDelay: DELAY,
    maxAuthFailures: MAX,
    ...settings,
  });

describe("safeEqual and passwordAuthenticator", () => {
  it("safeEqual: equal, unequal, different lengths, strings against Buffers", () => {
    assert.equal(safeEqual("s3cret", "s3cret"), true);
    assert.equal(safeEqual(Buffer.from("s3cret"), Buffer.from("s3cret")), true);
    assert.equal(safeEqual("s3cret", Buffer.from("s3cret")), true, "a string is compared as its UTF-8 bytes");
    assert.equal(safeEqual("", ""), true);
    assert.equal(safeEqual("s3cret", "s3creT"), false, "same length, last byte differs");
    assert.equal(safeEqual("s3cret", "s3cre"), false, "a prefix");
    assert.equal(safeEqual("s3cret", "s3cret "), false, "one byte longer");
    assert.equal(safeEqual("", "a"), false);
    assert.equal(safeEqual("é", Buffer.from("e")), false);
    assert.equal(safeEqual("a".repeat(10_000), "a".repeat(10_001)), false, "long inputs of different lengths");
  });

  it("passwordAuthenticator accepts the right password only, for a known user only", async () => {
    const fromObject = passwordAuthenticator({ alice: GOOD, bob: Buffer.from("bob-pw") });
    const fromMap = passwordAuthenticator(new Map([["alice", GOOD]]));
    const connection = {} as never; // the authenticator never looks at the connection
    for (const check of [fromObject, fromMap]) {
      assert.equal(await check("alice", GOOD, connection), true);
      assert.equal(await check("alice", `${GOOD}x`, connection), false);
      assert.equal(await check("alice", GOOD.slice(0, -1), connection), false);
      assert.equal(await check("alice", "", connection), false);
      assert.equal(await check("Alice", GOOD, connection), false, "user names are exact");
      assert.equal(await check("mallory", GOOD, connection), false, "an unknown user with a known password");
      assert.equal(await check("mallory", "", connection), false);
      for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
        assert.equal(await check(name, "", connection), false, name);
        assert.equal(await check(name, "[object Object]", connection), false, name);
      }
    }
    assert.equal(await fromObject("bob", "bob-pw", connection), true, "a Buffer password");
  });

  it("passwordAuthenticator copies its table and refuses a malformed one", async () => {
    const users: Record<string, string> = { alice: GOOD };
    const check = passwordAuthenticator(users);
    users.alice = "changed";
    users.eve = "eve-pw";
    assert.equal(await check("alice", GOOD, {} as never), true);
    assert.equal(await check("eve", "eve-pw", {} as never), false);
    for (const bad of [{ alice: 42 }, { alice: null }, new Map([[1, "x"]])]) {
      assert.throws(
        () => passwordAuthenticator(bad as never),
        (error: unknown) => error instanceof RetopyError && error.code === "RETOPY_INVALID_OPTION",
      );
    }
  });
});

describe("settings", () => {
  it("default to a 100 ms delay and 10 failures per connection", () => {
    const { settings } = new Application([]);
    assert.equal(settings.authFailureDelay, 100);
    assert.equal(settings.maxAuthFailures, 10);
  });

  it("refuse negative, fractional or non-finite values with RETOPY_INVALID_OPTION", () => {
    const bad: ApplicationSettings[] = [
      { authFailureDelay: -1 },
      { authFailureDelay: Number.NaN },
      { authFailureDelay: Number.POSITIVE_INFINITY },
      { authFailureDelay: 2 ** 31 },
      { authFailureDelay: "100" as never },
      { maxAuthFailures: -1 },
      { maxAuthFailures: 1.5 },
      { maxAuthFailures: Number.POSITIVE_INFINITY },
      { authenticate: "alice:pw" as never },
    ];
    for (const settings of bad) {
      assert.throws(
        () => new Application([], settings),
        (error: unknown) => error instanceof RetopyError && error.code === "RETOPY_INVALID_OPTION",
        JSON.stringify(settings),
      );
    }
    const zero = new Application([], { authFailureDelay: 0, maxAuthFailures: 0 });
    assert.equal(zero.settings.authFailureDelay, 0);
    assert.equal(zero.settings.maxAuthFailures, 0);
  });
});

describe("failure delay", () => {
  const bed = useTestBed();

  it("a failed AUTH is replied no sooner than the delay, and a PING pipelined behind it waits, in order", async () => {
    const client = await bed.open(await bed.serve(app()));
    const firstByte = once(client.socket, "data").then(() => Date.now());
    const started = Date.now();
    client.write(resp("AUTH", "alice", "wrong") + resp("PING"));
    await sleep(DELAY / 2);
    assert.equal(client.raw, "", "nothing may arrive before the delay, not even PONG");
    assert.deepEqual(await client.readLines(2), [WRONGPASS, "+PONG"]);
    // Timers may fire up to a millisecond early; what matters is that the wait happened.
    const waited = (await firstByte) - started;
    assert.ok(waited >= DELAY - 2, `the first reply byte came after ${waited} ms`);
  });

  it("applies to every path: HELLO AUTH, the header token and the app's own command", async () => {
    const port = await bed.serve(app());
    const cases: Array<[request: string, first: string]> = [
      [resp("HELLO", "3", "AUTH", "alice", "wrong") + resp("PING"), WRONGPASS],
      ["auth=alice:wrong\r\nPING\r\n", WRONGPASS],
      ["signin alice wrong\r\nPING\r\n", "-ERR Wrong username or password"],
    ];
    for (const [request, first] of cases) {
      const client = await bed.open(port);
      client.write(request);
      await sleep(DELAY / 2);
      assert.equal(client.raw, "", `nothing before the delay: ${JSON.stringify(request)}`);
      assert.deepEqual(await client.readLines(2), [first, "+PONG"], request);
    }
  });

  it("a successful login is not delayed", async () => {
    // A delay this long would time the reads out if it were applied to successes.
    const port = await bed.serve(app({ authFailureDelay: 5000 }));
    const client = await bed.open(port);
    client.write(`${HEADER}AUTH alice ${GOOD}\r\nwhoami\r\n`);
    assert.deepEqual(await client.readLines(2, 1000), ["+OK", "you are alice"]);
  });

  it("0 disables the delay and the limit", async () => {
    const port = await bed.serve(app({ authFailureDelay: 0, maxAuthFailures: 0 }));
    const client = await bed.open(port);
    const attempts = 3 * MAX;
    client.write(`${HEADER}${"AUTH alice wrong\r\n".repeat(attempts)}PING\r\n`);
    const lines = await client.readLines(attempts + 1);
    assert.deepEqual(lines, [...Array<string>(attempts).fill(WRONGPASS), "+PONG"]);
    assert.equal(client.isClosed, false);
  });

  it("a connection closed during the delay leaves no timer behind: the process exits at once", async () => {
    // A child process with a one-minute delay: it can only exit promptly if closing the
    // connection cancelled the pending wait.
    const dist = new URL("../../dist/src/index.js", import.meta.url).href;
    const script = `
      import { connect } from "node:net";
      const { Application, RetopyServer } = await import(${JSON.stringify(dist)});
      let asked;
      const called = new Promise((resolve) => (asked = resolve));
      const app = new Application([], { authFailureDelay: 60000, authenticate: () => { asked(); return false; } });
      const server = new RetopyServer(app, { logger: false });
      const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
      const socket = connect(port, "127.0.0.1", () => socket.write("hi\\r\\nAUTH alice wrong\\r\\n"));
      socket.on("error", () => undefined);
      socket.on("data", () => console.log("unexpected reply"));
      await called;
      await new Promise((resolve) => setTimeout(resolve, 20));
      socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await server.close({ timeout: 1000 });
      console.log("closed");
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    const guard = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const [code, signal] = (await once(child, "exit")) as [number | null, string | null];
    clearTimeout(guard);
    assert.equal(signal, null, `the child was still running after 10 s: ${output}`);
    assert.equal(code, 0, output);
    assert.equal(output, "closed\n");
  });
});

describe("lockout after maxAuthFailures", () => {
  const bed = useTestBed();

  /** Sends `attempt` MAX times with a PING pipelined behind the last; expects the refusals, then a close. */
  async function lockOut(client: TextClient, attempt: string, refusal: string): Promise<void> {
    for (let i = 1; i < MAX; i++) {
      client.write(attempt);
      assert.equal(await client.readLine(), refusal, `attempt ${i}`);
    }
    client.write(`${attempt}PING\r\n`);
    assert.equal(await client.readLine(), refusal, "the last refusal is replied");
    await client.closed();
    assert.deepEqual(client.pending, [], "what was pipelined behind the last attempt is dropped");
  }

  /** Another connection logs in fine meanwhile. */
  async function othersStillLogIn(port: number): Promise<void> {
    const other = await bed.open(port);
    other.write(`${HEADER}AUTH alice ${GOOD}\r\nwhoami\r\n`);
    assert.deepEqual(await other.readLines(2), ["+OK", "you are alice"]);
  }

  it("AUTH (ioredis): the refusals, then the connection closes; another connection logs in", async () => {
    const port = await bed.serve(app());
    const redis = await connectRedis(port, { commandTimeout: 3000 });
    const ended = once(redis, "end");
    try {
      for (let i = 0; i < MAX; i++) {
        await assert.rejects(redis.call("auth", "alice", `wrong-${i}`), /^ReplyError: WRONGPASS /);
      }
      await within(ended, 3000, "the server to close the connection");
      assert.equal(redis.status, "end");
      const good = await connectRedis(port, { username: "alice", password: GOOD, commandTimeout: 3000 });
      assert.equal(await good.call("whoami"), "you are alice");
      good.disconnect();
    } finally {
      redis.disconnect();
    }
  });

  it("AUTH (raw socket)", async () => {
    const port = await bed.serve(app());
    const waiting = await bed.open(port); // open throughout the other connection's lockout
    await lockOut(await bed.open(port), resp("AUTH", "alice", "wrong"), WRONGPASS);
    waiting.write(resp("AUTH", "alice", GOOD));
    assert.equal(await waiting.readLine(), "+OK");
    await othersStillLogIn(port);
  });

  it("HELLO 3 AUTH", async () => {
    const port = await bed.serve(app());
    await lockOut(await bed.open(port), resp("HELLO", "3", "AUTH", "alice", "wrong"), WRONGPASS);
    const good = await bed.open(port);
    good.write(resp("HELLO", "3", "AUTH", "alice", GOOD) + resp("WHOAMI"));
    await eventually(() => good.raw.includes("$13\r\nyou are alice\r\n"), 2000, "whoami after HELLO 3 AUTH");
    assert.ok(good.raw.startsWith("%7\r\n"), good.raw);
  });

  it("the header auth= token (one attempt per connection, so maxAuthFailures 1)", async () => {
    const port = await bed.serve(app({ maxAuthFailures: 1 }));
    const client = await bed.open(port);
    client.write("auth=alice:wrong\r\nPING\r\n");
    assert.equal(await client.readLine(), WRONGPASS);
    await client.closed();
    assert.deepEqual(client.pending, []);
    const good = await bed.open(port);
    good.write(`auth=alice:${GOOD}\r\nwhoami\r\n`);
    assert.equal(await good.readLine(), "you are alice");
  });

  it("the app's own login command", async () => {
    const port = await bed.serve(app());
    await lockOut(await bed.open(port), "signin alice wrong\r\n", "-ERR Wrong username or password");
    const good = await bed.open(port);
    assert.equal(await good.command(`signin alice ${GOOD}`), "welcome alice");
    assert.equal(await good.command("whoami"), "you are alice");
  });

  it("counts every path together, and a success does not reset the count", async () => {
    const port = await bed.serve(app());
    const client = await bed.open(port);
    client.write("auth=alice:wrong\r\n");
    assert.equal(await client.readLine(), WRONGPASS);
    assert.equal(await client.command(`AUTH alice ${GOOD}`), "+OK", "a success in between");
    assert.equal(await client.command("signin alice wrong"), "-ERR Wrong username or password");
    client.write("HELLO 3 AUTH alice wrong\r\nPING\r\n");
    assert.equal(await client.readLine(), WRONGPASS);
    await client.closed();
    await othersStillLogIn(port);
  });

  it("counts per connection: failures on one do not count against another", async () => {
    const port = await bed.serve(app());
    const first = await bed.open(port);
    const second = await bed.open(port);
    first.write(HEADER);
    second.write(HEADER);
    for (let i = 1; i < MAX; i++) {
      assert.equal(await first.command("AUTH alice wrong"), WRONGPASS);
      assert.equal(await second.command("AUTH alice wrong"), WRONGPASS);
    }
    assert.equal(await second.command(`AUTH alice ${GOOD}`), "+OK");
    assert.equal(await first.command("PING"), "+PONG", "below the limit, still open");
    assert.equal(first.isClosed, false);
  });
});

describe("no credential in the logs", () => {
  const bed = useTestBed();

  it("a server logging at trace never writes a password, while its log lines do appear", async () => {
    let logged = "";
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logged += String(chunk);
        done();
      },
    });
    const running = await bed.start(app(), { logger: { level: "trace", destination: sink } });
    const { port } = running;
    const bad = (n: number) => `Bad-Pw-${n}-c0ffee`;
    const secrets = [GOOD, ...[1, 2, 3, 4, 5, 6, 7].map(bad), "Pin-Secret-9", "Note-Secret-8"];

    // AUTH, good and bad, over the text protocol and over ioredis.
    const text = await bed.open(port);
    text.write(HEADER);
    assert.equal(await text.command(`AUTH alice ${GOOD}`), "+OK");
    assert.equal(await text.command(`AUTH alice ${bad(1)}`), WRONGPASS);
    const redis = await connectRedis(port, { username: "alice", password: GOOD, commandTimeout: 3000 });
    await assert.rejects(redis.call("auth", "alice", bad(2)), /WRONGPASS/);
    redis.disconnect();
    // HELLO 3 AUTH, good and bad.
    const hello = await bed.open(port);
    hello.write(resp("HELLO", "3", "AUTH", "alice", bad(3)));
    assert.equal(await hello.readLine(), WRONGPASS);
    hello.write(resp("HELLO", "3", "AUTH", "alice", GOOD) + resp("WHOAMI"));
    await eventually(() => hello.raw.includes("you are alice"), 2000, "whoami after HELLO 3 AUTH");
    // The header token, good and bad.
    const headerGood = await bed.open(port);
    headerGood.write(`auth=alice:${GOOD} color=blue\r\nwhoami\r\n`);
    assert.equal(await headerGood.readLine(), "you are alice");
    const headerBad = await bed.open(port);
    headerBad.write(`auth=alice:${bad(4)}\r\nwhoami\r\n`);
    assert.deepEqual(await headerBad.readLines(2), [WRONGPASS, "-ERR Authorization required"]);
    // The app's own login command, good and bad; a refusal that quotes an argument; an app log line.
    assert.equal(await text.command(`signin alice ${GOOD}`), "welcome alice");
    assert.equal(await text.command(`signin alice ${bad(5)}`), "-ERR Wrong username or password");
    assert.match(await text.command("pin Pin-Secret-9"), /got 'Pin-Secret-9'/, "the client is told what it sent");
    assert.equal(await text.command("note Note-Secret-8"), "noted");
    // A lockout.
    const locked = await bed.open(port);
    for (let i = 0; i < MAX; i++) locked.send(`signin alice ${i === 0 ? bad(6) : bad(7)}`);
    await locked.readLines(MAX);
    await locked.closed();
    await running.close();

    for (const secret of secrets) assert.ok(!logged.includes(secret), `'${secret}' was logged:\n${logged}`);
    const lines = logged.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    const messages = new Set(lines.map((line) => line.msg));
    for (const msg of ["connection opened", "handshake", "login refused", "command refused", "note taken", "connection closed"]) {
      assert.ok(messages.has(msg), `no '${msg}' line in:\n${logged}`);
    }
    const handshake = lines.find((line) => line.msg === "handshake" && JSON.stringify(line.header).includes("blue"));
    assert.deepEqual(handshake?.header, { auth: "[redacted]", color: "blue" });
    const note = lines.find((line) => line.msg === "note taken");
    assert.deepEqual([note?.args, note?.form], ["[redacted]", { password: "[redacted]" }]);
    const warnings = lines.filter((line) => line.msg === "too many failed logins; closing the connection");
    assert.equal(warnings.length, 1, logged);
    assert.equal(warnings[0]!.level, 40);
    assert.equal(warnings[0]!.user, "alice");
    assert.equal(warnings[0]!.failures, MAX);
    assert.equal(typeof warnings[0]!.connection, "string", "the warning names the connection");
  });

  it("the logger option merges an application's own redact paths with retopy's", async () => {
    let logged = "";
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logged += String(chunk);
        done();
      },
    });
    const running = await bed.start(app(), { logger: { level: "info", destination: sink, redact: ["form.pin"] } });
    const client = await bed.open(running.port);
    client.write("header line\r\n");
    running.server.logger.info({ form: { pin: "1234", password: "pw-9" }, args: ["x"] }, "custom");
    await running.close();
    const custom = logged.split("\n").find((line) => line.includes('"custom"'));
    assert.ok(custom, logged);
    assert.deepEqual(JSON.parse(custom).form, { pin: "[redacted]", password: "[redacted]" });
    assert.equal(JSON.parse(custom).args, "[redacted]");
  });
});

describe("failed logins per remote address", () => {
  const bed = useTestBed();

  it("hanging up before the refusal buys nothing: past the budget, authenticate is not asked until the window ends", async () => {
    let asked = 0;
    const check = passwordAuthenticator({ alice: GOOD });
    const port = await bed.serve(
      new Application([Guarded], {
        authenticate: (user, password, connection) => {
          asked++;
          return check(user, password, connection);
        },
        authFailureDelay: 100,
        maxAuthFailuresPerAddress: 5,
        authFailureWindow: 1500,
      }),
    );
    // The review's attack: send a guess, wait 5 ms, hang up before the delayed refusal, reconnect.
    for (let i = 0; i < 20; i++) {
      const guesser = await bed.open(port);
      guesser.write(`${HEADER}AUTH alice wrong${i}\r\n`);
      await sleep(5);
      guesser.close();
    }
    await eventually(() => asked === 5, 2000, "five guesses to reach authenticate");
    await sleep(100);
    assert.equal(asked, 5, "no more than the budget reached authenticate");
    // Even the right password is refused from this address until the window ends...
    const refused = await bed.open(port);
    refused.write(`${HEADER}AUTH alice ${GOOD}\r\n`);
    assert.match(await refused.readLine(), /^-WRONGPASS/);
    assert.equal(asked, 5);
    // ...and accepted after it.
    await sleep(1500);
    const later = await bed.open(port);
    later.write(`${HEADER}AUTH alice ${GOOD}\r\nwhoami\r\n`);
    assert.deepEqual(await later.readLines(2), ["+OK", "you are alice"]);
  });

  it("counts IPv6 addresses by their /64 network and IPv4-mapped ones as IPv4", () => {
    assert.equal(addressKey("2001:db8:0:1:aaaa::1"), addressKey("2001:db8::1:ffff:0:0:2"));
    assert.notEqual(addressKey("2001:db8:0:1::1"), addressKey("2001:db8:0:2::1"));
    assert.equal(addressKey("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(addressKey("10.0.0.1"), "10.0.0.1");
  });
});
