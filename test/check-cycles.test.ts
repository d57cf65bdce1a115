/**
 * The import-cycle check CI runs: it must find a cycle (type-only included) when there is
 * one, and find none in src/ and machines/.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPT = path.join(ROOT, "scripts/check-cycles.mjs");

function check(cwd: string, ...dirs: string[]) {
  return spawnSync(process.execPath, [SCRIPT, ...dirs], { cwd, encoding: "utf8" });
}

describe("scripts/check-cycles.mjs", () => {
  it("finds no cycle in src/ and machines/", () => {
    const result = check(ROOT);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /no import cycles/);
  });

  it("reports a cycle made of type-only imports across folders, and fails", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "retopy-cycles-"));
    try {
      mkdirSync(path.join(dir, "a"));
      mkdirSync(path.join(dir, "b"));
      writeFileSync(path.join(dir, "a/one.ts"), 'import type { Two } from "../b/two.js";\nexport interface One { two: Two }\n');
      writeFileSync(path.join(dir, "b/two.ts"), 'import { helper } from "./three.js";\nexport interface Two { n: number }\nhelper();\n');
      writeFileSync(path.join(dir, "b/three.ts"), 'import type { One } from "../a/one.js";\nexport function helper(o?: One) { return o; }\n');
      writeFileSync(path.join(dir, "b/leaf.ts"), 'import { helper } from "./three.js";\nhelper();\n');
      const result = check(dir, "a", "b");
      assert.equal(result.status, 1);
      assert.match(result.stderr, /a\/one\.ts -> b\/two\.ts -> b\/three\.ts -> a\/one\.ts/);
      assert.match(result.stderr, /1 import cycle/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
