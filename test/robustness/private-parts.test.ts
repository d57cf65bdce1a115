/**
 * What user code is handed stays what the types promise. A handler subclass may use any
 * field name without breaking retopy's bookkeeping, and `this.connection` (and what
 * `authenticate` and pub/sub get) is a ConnectionInfo, with no way to the socket, the
 * output or the runner, even through a cast.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Application, CommandHandler, type ConnectionInfo, parameter } from "../../src/index.js";
import { useTestBed } from "../support.js";

describe("private parts stay private", () => {
  const bed = useTestBed();

  it("a handler's own _replies, _finished and _skipReply fields do not touch the reply", async () => {
    class Careless extends CommandHandler {
      _replies = "mine";
      _finished = "not a boolean";
      _skipReply = true;

      @parameter({ name: "word" })
      echo() {
        this.write(`said ${this.getArgument<string>("word")}`);
      }

      @parameter()
      late() {
        return "returned";
      }
    }
    const port = await bed.serve(new Application([Careless]), { handshake: "none" });
    const client = await bed.open(port);
    client.send("echo hello");
    client.send("late");
    client.send("echo again");
    assert.deepEqual(await client.readLines(3, 2000), ["said hello", "returned", "said again"]);
  });

  it("this.connection has ConnectionInfo's members and none of the Connection's own", async () => {
    let seen: ConnectionInfo | null = null;
    let fromLogin: ConnectionInfo | null = null;
    class Peek extends CommandHandler {
      @parameter()
      peek() {
        seen = this.connection;
        const own = this.connection as unknown as Record<string, unknown>;
        const reachable = ["send", "overflow", "backedUp", "caughtUp", "idle", "_closeIfIdle", "_drain", "_destroy", "requestClose", "outputBlocked", "encoder", "stats", "application", "next", "error", "handshake", "maxHeaderSize", "headerTimeout", "lingerTimeout", "supervisor"]
          .filter((name) => own[name] !== undefined);
        return reachable.length === 0 ? "sealed" : `reachable: ${reachable.join(",")}`;
      }

      @parameter()
      who() {
        return `${this.connection.user ?? "nobody"} ${this.connection.clientId} ${this.connection.protocol} ${this.connection.state}`;
      }
    }
    const app = new Application([Peek], {
      authenticate: (user, _password, connection) => {
        fromLogin = connection;
        return user === "ann";
      },
    });
    const port = await bed.serve(app, { handshake: "none" });
    const client = await bed.open(port);
    assert.equal(await client.command("peek"), "sealed");
    client.send("auth ann secret");
    assert.equal(await client.readLine(), "+OK");
    assert.match(await client.command("who"), /^ann \d+ text authenticated$/);
    // One view per connection: what logins and subscriptions are keyed by is one identity.
    assert.equal(fromLogin, seen);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(seen))).sort(), ["clientId", "id", "protocol", "remoteAddress", "state", "user"]);

    // server.connections hands out the same views, never the Connection itself.
    const server = bed.servers.at(-1)!.server;
    const listed = server.connections.get(seen!.id);
    assert.equal(listed, seen);
    assert.equal(server.connections.has(seen!.id), true);
    assert.deepEqual([...server.connections.values()], [seen]);
    assert.deepEqual([...server.connections].map(([id]) => id), [seen!.id]);
    for (const name of ["send", "overflow", "caughtUp", "_closeIfIdle", "_destroy", "_drain", "next", "error", "supervisor"]) {
      assert.equal((listed as unknown as Record<string, unknown>)[name], undefined, name);
    }
  });
});

describe("private state is plain private fields and methods", () => {
  it("no source file declares a private accessor (`get #x` / `set #x`), which V8 in Node 20 reads through the runtime", async () => {
    const { readdir, readFile } = await import("node:fs/promises");
    const root = new URL("../../", import.meta.url);
    const offenders: string[] = [];
    for (const dir of ["src", "machines"]) {
      for (const entry of await readdir(new URL(`${dir}/`, root), { recursive: true })) {
        if (!entry.endsWith(".ts")) continue;
        const text = await readFile(new URL(`${dir}/${entry}`, root), "utf8");
        text.split("\n").forEach((line, i) => {
          if (/^\s*(?:static\s+)?(?:get|set)\s+#/.test(line)) offenders.push(`${dir}/${entry}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    assert.deepEqual(offenders, []);
  });
});
