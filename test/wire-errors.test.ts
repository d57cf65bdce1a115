/**
 * One home for the error replies retopy sends: src/protocol/wire-errors.ts. Each entry reads
 * as a Redis client expects (`CODE message`, one line), and no other source file spells an
 * error reply of its own: a new one goes into the catalogue, where docs and tests see it.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ERROR_CODE, MAX_CLIENTS_LINE, WireErrors } from "../src/protocol/wire-errors.js";

const SRC = fileURLToPath(new URL("../src", import.meta.url));

function* sources(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) yield* sources(full);
    else if (name.endsWith(".ts")) yield full;
  }
}

/** Ways of spelling an error reply in place. Comments are skipped. */
const IN_PLACE = [
  /new CommandError\(\s*["'`]/,
  /\{\s*code:\s*["'][A-Z]+["']\s*,\s*message:/,
  /["'`]-(ERR|NOAUTH|WRONGPASS|NOPROTO)\b/,
  /["'`]Protocol error:/,
  /["'`]wrong number of arguments/,
];
/**
 * Files that may: the catalogue, the two encoders that write any error as `-CODE message`,
 * and the client and shell, which read error replies rather than send them.
 */
const EXEMPT = new Set(["protocol/wire-errors.ts", "protocol/text-reply.ts", "protocol/resp-reply.ts"]);
const EXEMPT_DIRS = ["client/", "shell/"];

describe("wire errors", () => {
  it("every entry is a valid code and a one-line message", () => {
    const samples = Object.values(WireErrors).map((entry) => (typeof entry === "function" ? (entry as (...a: string[]) => { code: string; message: string })("x", "y", "z", "w") : entry));
    assert.ok(samples.length >= 30);
    for (const { code, message } of samples) {
      assert.match(code, ERROR_CODE);
      assert.ok(message.length > 0 && !/[\r\n]/.test(message), message);
    }
    assert.equal(MAX_CLIENTS_LINE, "-ERR max number of clients reached\r\n");
  });

  it("client text inside an entry is cut to the echo limit", () => {
    const long = "k".repeat(10_000);
    assert.ok(WireErrors.unknownCommand(long).message.length < 200);
    assert.ok(WireErrors.invalidArgument("n", "cmd", "an integer", long).message.length < 300);
  });

  it("no other source file spells an error reply in place", () => {
    const offenders: string[] = [];
    for (const file of sources(SRC)) {
      const relative = path.relative(SRC, file).split(path.sep).join("/");
      if (EXEMPT.has(relative) || EXEMPT_DIRS.some((dir) => relative.startsWith(dir))) continue;
      const lines = readFileSync(file, "utf8").split("\n");
      lines.forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, "");
        if (/^\s*(\*|\/\*\*)/.test(code)) return;
        if (IN_PLACE.some((pattern) => pattern.test(code))) offenders.push(`${relative}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(offenders, []);
  });
});
