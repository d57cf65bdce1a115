/**
 * Credentials in the handshake line: `auth=user:password` goes through the application's
 * `authenticate`, in order, before the commands behind it, and is never logged.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Writable } from "node:stream";
import { pino } from "pino";
import { Application, authenticated, CommandHandler, parameter } from "../src/index.js";
import { TextClient, useTestBed } from "./support.js";

class Secret extends CommandHandler {
  @parameter()
  @authenticated
  whoami(): string {
    return `you are ${this.connection.user}`;
  }
}

const app = () =>
  new Application([Secret], {
    authenticate: async (user, password) => {
      await new Promise((resolve) => setTimeout(resolve, 5)); // async checks keep their place
      return user === "alice" && password === "s3cret";
    },
  });

describe("header auth= token", () => {
  const bed = useTestBed();

  it("logs the connection in before the pipelined commands behind the header run", async () => {
    const client = await TextClient.connect(await bed.serve(app()));
    client.write("auth=alice:s3cret\r\nwhoami\r\n");
    assert.equal(await client.readLine(), "you are alice");
    client.close();
  });

  it("a wrong password is a WRONGPASS line, and authenticated commands stay refused", async () => {
    const client = await TextClient.connect(await bed.serve(app()));
    client.write("auth=alice:nope\r\nwhoami\r\n");
    assert.deepEqual(await client.readLines(2), [
      "-WRONGPASS invalid username-password pair or user is disabled.",
      "-ERR Authorization required",
    ]);
    client.close();
  });

  it("the password never reaches the log", async () => {
    let logged = "";
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logged += String(chunk);
        done();
      },
    });
    const port = await bed.serve(app(), { logger: pino({ level: "info" }, sink) });
    const client = await TextClient.connect(port);
    client.write("auth=alice:s3cret color=blue\r\nwhoami\r\n");
    assert.equal(await client.readLine(), "you are alice");
    assert.ok(logged.includes('"color":"blue"'), logged);
    assert.ok(!logged.includes("s3cret"), "the password was logged");
    client.close();
  });
});
