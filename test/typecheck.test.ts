/**
 * The compile-time tests (test/types/) are only worth something while tsc really checks
 * them: this runs tsc as a child process on a fixture with deliberate mistakes and asserts
 * it reports each one, in both decorator modes; that the type tests are in the programs
 * `npm run typecheck` compiles; and that they, and every existing decorated handler in
 * src/, test/ and examples/, compile under `experimentalDecorators` as well.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSC = path.join(ROOT, "node_modules/typescript/bin/tsc");
const FIXTURE = "test/types/fixtures/deliberate-errors.ts";
const TYPE_TESTS = ["test/types/typed-commands.types.ts", "test/types/decorators.types.ts"];

interface Run {
  code: number;
  output: string;
}

function tsc(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, ...args], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, output: stdout + stderr });
    });
  });
}

/** `line:TSnnnn` for every `// expect: TSnnnn` comment of the fixture. */
function expectedErrors(): string[] {
  const lines = readFileSync(path.join(ROOT, FIXTURE), "utf8").split("\n");
  return lines.flatMap((line, i) => [...line.matchAll(/expect: (TS\d+)/g)].map((m) => `${i + 1}:${m[1]}`)).sort();
}

/** `line:TSnnnn` for every error tsc reported in the fixture. */
function reportedErrors(output: string): string[] {
  return [...output.matchAll(/deliberate-errors\.ts\((\d+),\d+\): error (TS\d+)/g)].map((m) => `${m[1]}:${m[2]}`).sort();
}

/** The files a `--listFiles` run compiled (relative, forward slashes); fails on any error it reported. */
function programFiles(run: Run): string[] {
  assert.equal(run.code, 0, run.output);
  return run.output
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((file) => path.relative(ROOT, file.trim()).split(path.sep).join("/"));
}

/** Each tsc run once, started together: the machine's cores check them side by side. */
const runs = new Map<string, Promise<Run>>();
const tscOnce = (...args: string[]): Promise<Run> => {
  const key = args.join(" ");
  if (!runs.has(key)) runs.set(key, tsc(...args));
  return runs.get(key)!;
};
const FIXTURE_PROJECTS = {
  "standard decorators": "test/types/fixtures/tsconfig.json",
  experimentalDecorators: "test/types/fixtures/tsconfig.experimental-decorators.json",
} as const;
const startAll = (): void => {
  for (const project of Object.values(FIXTURE_PROJECTS)) void tscOnce("-p", project);
  void tscOnce("-p", "tsconfig.json", "--listFilesOnly");
  void tscOnce("-p", "tsconfig.experimental-decorators.json", "--listFiles");
  void tscOnce("-p", "test/types/tsconfig.json");
};

describe("compile-time tests", () => {
  before(startAll);

  it("the fixture marks mistakes of every kind", () => {
    // A fixture that lost its markers would make the next tests vacuous.
    const codes = new Set(expectedErrors().map((e) => e.split(":")[1]));
    assert.deepEqual([...codes].sort(), ["TS1240", "TS2322", "TS2339", "TS2345"]);
  });

  for (const [mode, project] of Object.entries(FIXTURE_PROJECTS)) {
    it(`tsc reports exactly the fixture's deliberate errors (${mode})`, async () => {
      const run = await tscOnce("-p", project);
      assert.notEqual(run.code, 0, "tsc accepted a file full of type errors");
      assert.deepEqual(reportedErrors(run.output), expectedErrors(), run.output);
    });
  }

  it("npm run typecheck checks the type tests, not the fixture; all of it compiles under experimentalDecorators too", async () => {
    const scripts = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts.typecheck ?? "", /tsc --noEmit -p \.(\s|$)/);
    assert.match(scripts.typecheck ?? "", /tsc -p tsconfig\.experimental-decorators\.json/);
    const standard = await programFiles(await tscOnce("-p", "tsconfig.json", "--listFilesOnly"));
    // --listFiles type-checks as well: src/, test/ and examples/ with experimentalDecorators.
    const experimental = await programFiles(await tscOnce("-p", "tsconfig.experimental-decorators.json", "--listFiles"));
    for (const [project, files] of [["tsconfig.json", standard], ["tsconfig.experimental-decorators.json", experimental]] as const) {
      for (const file of [...TYPE_TESTS, "examples/counter.ts", "test/e2e.commands.test.ts"]) {
        assert.ok(files.includes(file), `${project} does not check ${file}`);
      }
      assert.ok(!files.includes(FIXTURE), `${project} compiles the deliberate errors`);
    }
  });

  it("the type tests pass under standard decorators", async () => {
    const run = await tscOnce("-p", "test/types/tsconfig.json");
    assert.equal(run.code, 0, run.output);
  });
});
