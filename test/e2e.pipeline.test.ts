/**
 * Pipelining over real TCP: many commands in one write, sync and async mixed, answered in
 * order; state changes (login) seen by the very next pipelined command; per-connection
 * isolation; and a client that leaves in the middle of an async command.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, authenticated, CommandError, CommandHandler, parameter } from "../src/index.js";
import { eventually, type Running, type TextClient, useTestBed } from "./support.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Deterministic PRNG (mulberry32) so a failure replays the same mix. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the `slow` command saw, in order: `start:<tag>`, `aborted:<tag>` or `timeout:<tag>`. */
const slowEvents: string[] = [];
/** Tags recorded by `record`: proves which queued commands ran. */
const recorded: string[] = [];

class Pipeline extends CommandHandler {
  @parameter({ name: "n", type: "int" })
  seq(): number {
    return this.getArgument<number>("n");
  }

  @parameter({ name: "n", type: "int" })
  @parameter({ name: "ms", type: "int" })
  async aseq(): Promise<number> {
    await sleep(this.getArgument<number>("ms"));
    return this.getArgument<number>("n");
  }

  @parameter()
  ping(): string {
    return "+PONG";
  }

  @parameter("username")
  @parameter("password")
  async authenticate(): Promise<string> {
    await sleep(5);
    const username = this.getArgument("username");
    if (this.getArgument("password") !== `${username}-pass`) throw new CommandError("Wrong username or password");
    this.connection.user = username;
    return "+OK";
  }

  @parameter()
  @authenticated
  auth_test(): string {
    return `authorized as ${this.connection.user}`;
  }

  @parameter("tag")
  @parameter({ name: "ms", type: "int", default: 1500 })
  async slow(): Promise<void> {
    const tag = this.getArgument("tag");
    const signal = this.signal;
    slowEvents.push(`start:${tag}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        slowEvents.push(`timeout:${tag}`);
        resolve();
      }, this.getArgument<number>("ms"));
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          slowEvents.push(`aborted:${tag}`);
          resolve();
        },
        { once: true },
      );
    });
    this.write(`finished ${tag}`);
  }

  @parameter("tag")
  record(): string {
    recorded.push(this.getArgument("tag"));
    return "+OK";
  }
}

describe("pipelining", () => {
  const bed = useTestBed();
  let running: Running;
  const open = (): Promise<TextClient> => bed.open(running.port);

  before(async () => {
    running = await bed.start(new Application([Pipeline]));
  });

  it("answers 1,000 commands sent in one write in exact order, sync and async mixed", async () => {
    const random = prng(0x5eed);
    const count = 1000;
    let payload = "";
    let asyncCount = 0;
    for (let n = 0; n < count; n++) {
      if (random() < 0.3) {
        asyncCount++;
        payload += `aseq ${n} ${Math.floor(random() * 6)}\r\n`; // 0–5 ms
      } else {
        payload += `seq ${n}\r\n`;
      }
    }
    assert.ok(asyncCount > 200 && asyncCount < 400, `a real mix: ${asyncCount} async`);
    const client = await open();
    client.write(payload);
    const replies = await client.readLines(count, 15_000);
    assert.deepEqual(
      replies,
      Array.from({ length: count }, (_, n) => String(n)),
    );
    assert.equal(client.raw, replies.map((r) => `${r}\r\n`).join(""), "nothing else on the wire");
  });

  it("a command pipelined right after an async login sees the login; before it, it is refused", async () => {
    const client = await open();
    client.write("auth_test\r\nauthenticate ann ann-pass\r\nauth_test\r\n");
    assert.deepEqual(await client.readLines(3), ["-ERR Authorization required", "+OK", "authorized as ann"]);
  });

  it("a failed login in the same packet leaves the next command refused", async () => {
    const client = await open();
    client.write("authenticate ann wrong\r\nauth_test\r\nauthenticate ann ann-pass\r\nauth_test\r\n");
    assert.deepEqual(await client.readLines(4), [
      "-ERR Wrong username or password",
      "-ERR Authorization required",
      "+OK",
      "authorized as ann",
    ]);
  });

  it("two interleaving connections never see each other's login", async () => {
    const a = await open();
    const b = await open();
    // Both packets in flight at once: only a logs in.
    a.write("authenticate amy amy-pass\r\nauth_test\r\n");
    b.write("auth_test\r\nping\r\nauth_test\r\n");
    assert.deepEqual(await a.readLines(2), ["+OK", "authorized as amy"]);
    assert.deepEqual(await b.readLines(3), ["-ERR Authorization required", "+PONG", "-ERR Authorization required"]);
    // Now b logs in as someone else; each keeps its own user.
    assert.equal(await b.command("authenticate bob bob-pass"), "+OK");
    a.write("auth_test\r\n");
    b.write("auth_test\r\n");
    assert.equal(await a.readLine(), "authorized as amy");
    assert.equal(await b.readLine(), "authorized as bob");
    // A fresh connection starts logged out.
    const c = await open();
    assert.equal(await c.command("auth_test"), "-ERR Authorization required");
  });

  it("a client leaving mid async command aborts this.signal, drops the queue, and the server keeps serving", async () => {
    slowEvents.length = 0;
    recorded.length = 0;
    const leaving = await open();
    leaving.write("record before\r\nslow gone\r\nrecord after\r\n");
    await eventually(() => slowEvents.includes("start:gone"), 2000, "slow to start");
    leaving.close();
    await eventually(() => slowEvents.includes("aborted:gone"), 2000, "the command's signal to abort");
    assert.ok(!slowEvents.includes("timeout:gone"));
    await sleep(20);
    assert.deepEqual(recorded, ["before"], "what was queued behind the slow command never runs");

    // Others are unaffected: their signal is not aborted and their commands complete.
    const staying = await open();
    assert.equal(await staying.command("slow stay 10"), "finished stay");
    assert.ok(slowEvents.includes("timeout:stay") && !slowEvents.includes("aborted:stay"));
    assert.equal(await staying.command("ping"), "+PONG");
    const stillOpen = bed.clients.filter((c) => !c.isClosed).length;
    await eventually(() => running.server.stats().connectionsCurrent === stillOpen, 2000, "the left connection to be counted closed");
  });
});
