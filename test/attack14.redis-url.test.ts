/**
 * Outside-review attacks on Redis URLs (issue 14). A password with a bare `%` (generated
 * passwords have them) is not a valid percent-encoding: `decodeURIComponent` threw a bare
 * `URIError: URI malformed`, out of the constructor's RETOPY_INVALID_OPTION contract and,
 * through `REDIS_URL`, as `retopy: REDIS_URL: URI malformed` with no hint of the fix. It is
 * now an invalid-option error that says to write `%` as `%25`, and never shows the password.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Application, RetopyError, RetopyServer } from "../src/index.js";
import { CliProcess } from "./cli-process.js";

const SECRET = "ab%zzSECRET";
const children: CliProcess[] = [];
after(() => {
  for (const child of children) child.kill();
});

describe("attack 14: a Redis URL whose password has a bare %", () => {
  it("the constructor refuses it with RETOPY_INVALID_OPTION (redis and pubsub), saying how to write %, without the password", () => {
    for (const option of ["redis", "pubsub"] as const) {
      assert.throws(
        () => new RetopyServer(new Application([]), { logger: false, [option]: `redis://default:${SECRET}@127.0.0.1:6379` }),
        (error: unknown) => {
          assert.ok(error instanceof RetopyError, `${option}: ${String(error)}`);
          assert.equal(error.code, "RETOPY_INVALID_OPTION");
          assert.match(error.message, /%25/);
          assert.ok(!error.message.includes("SECRET"), error.message);
          return true;
        },
      );
    }
  });

  it("retopy serve with it in REDIS_URL or --pubsub exits 2 with one line that says how to fix it, without the password", async () => {
    for (const [args, env] of [
      [[], { REDIS_URL: `redis://:${SECRET}@127.0.0.1:1` }],
      [["--pubsub", `redis://:${SECRET}@127.0.0.1:1`], {}],
    ] as const) {
      const child = new CliProcess(["serve", "test/fixtures/attack14-ipc-app.ts", "--port", "0", ...args], { env });
      children.push(child);
      const exit = await child.exit(20_000);
      assert.equal(exit.code, 2, child.stderr);
      assert.match(child.stderr, /%25/);
      assert.ok(!`${child.stdout}${child.stderr}`.includes("SECRET"), child.stderr);
    }
  });
});
