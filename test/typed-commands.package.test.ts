/**
 * Typed commands as a consumer gets them: the packed tarball (`npm pack`) unpacked into a
 * fresh ESM project, compiled with the project's own strict tsconfig against the published
 * .d.ts files. Every TypeScript sample of docs/typed-commands.md compiles and prints what
 * its `// comment` says; a consumer file with mistakes gets exactly the marked errors (the
 * inference survives declaration emit). Needs `npm run build` first (`npm test` does).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { packRetopy, unpackRetopy } from "./packed.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSC = path.join(ROOT, "node_modules/typescript/bin/tsc");
const DOC = path.join(ROOT, "docs/typed-commands.md");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The ```ts blocks of the doc, in order. */
function samples(): string[] {
  return [...readFileSync(DOC, "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** What a sample says it prints: the comment after each `console.log(...)`. */
function expectedOutput(sample: string): string[] {
  return sample
    .split("\n")
    .filter((line) => line.startsWith("console.log("))
    .map((line) => line.slice(line.lastIndexOf("); // ") + "); // ".length));
}

const CONSUMER_ERRORS = `import { Application, Command } from "retopy";

const app = new Application();
app.command("set", { params: ["key", { name: "count", type: "int" }] }, (h) => {
  const misspelt = h.args.kye; // expect: TS2339
  const wrong: string = h.arg("count"); // expect: TS2322
  return [misspelt, wrong];
});

export class Incr extends Command({ name: "incr", params: [{ name: "by", type: "float", optional: true }] }) {
  run(): number {
    return this.args.by; // expect: TS2322
  }
}
`;

describe("typed commands in a fresh project, from the packed tarball", () => {
  let dir: string;
  let project: string;
  let tarball: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "retopy-typed-"));
    tarball = packRetopy(dir);
    project = path.join(dir, "project");
    const modules = path.join(project, "node_modules");
    unpackRetopy(tarball, project);
    mkdirSync(path.join(modules, "@types"));
    // retopy's dependencies (and Node's types), linked from this checkout: no registry needed.
    for (const name of ["xstate", "pino", "nanoid"]) symlinkSync(path.join(ROOT, "node_modules", name), path.join(modules, name));
    symlinkSync(path.join(ROOT, "node_modules/@types/node"), path.join(modules, "@types/node"));
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", type: "module", private: true }));
    // What `tsc --init` gives, made ESM for Node: strict, no experimentalDecorators.
    writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, types: ["node"], outDir: "out", rootDir: "." },
        include: ["sample-*.ts"],
      }),
    );
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("packs the typed-command sources and types", () => {
    const dist = path.join(project, "node_modules/retopy/dist/src");
    for (const file of ["typed-args.d.ts", "typed-handler.js", "typed-handler.d.ts", "command-class.js", "command-class.d.ts"]) {
      assert.ok(existsSync(path.join(dist, file)), `the tarball lacks dist/src/${file}`);
    }
  });

  it("compiles every sample of docs/typed-commands.md and each prints what its comments say", async () => {
    const all = samples();
    assert.ok(all.length >= 6, `expected the doc's samples, found ${all.length}`);
    all.forEach((sample, i) => writeFileSync(path.join(project, `sample-${i + 1}.ts`), sample));
    const compiled = await run(process.execPath, [TSC, "-p", "."], project);
    assert.equal(compiled.code, 0, compiled.stdout + compiled.stderr);
    for (const [i, sample] of all.entries()) {
      const ran = await run(process.execPath, [path.join(project, "out", `sample-${i + 1}.js`)], project);
      assert.equal(ran.code, 0, `sample ${i + 1} failed:\n${ran.stderr}`);
      const printed = ran.stdout.split("\n").map((line) => line.trimEnd()).filter((line) => line !== "");
      assert.deepEqual(printed, expectedOutput(sample), `sample ${i + 1} printed otherwise`);
    }
  });

  it("compiles the doc's samples in a project with experimentalDecorators too", async () => {
    // After the previous test wrote them: the same files, TypeScript's older decorator mode.
    const compiled = await run(process.execPath, [TSC, "-p", ".", "--noEmit", "--experimentalDecorators"], project);
    assert.equal(compiled.code, 0, compiled.stdout + compiled.stderr);
  });

  it("reports a consumer's misspelt and mistyped arguments through the published types", async () => {
    const consumer = path.join(dir, "consumer-errors");
    mkdirSync(consumer);
    symlinkSync(path.join(project, "node_modules"), path.join(consumer, "node_modules"));
    writeFileSync(path.join(consumer, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(path.join(consumer, "tsconfig.json"), readFileSync(path.join(project, "tsconfig.json")));
    writeFileSync(path.join(consumer, "sample-errors.ts"), CONSUMER_ERRORS);
    const compiled = await run(process.execPath, [TSC, "-p", ".", "--noEmit"], consumer);
    const reported = [...compiled.stdout.matchAll(/sample-errors\.ts\((\d+),\d+\): error (TS\d+)/g)].map((m) => `${m[1]}:${m[2]}`);
    const expected = CONSUMER_ERRORS.split("\n").flatMap((line, i) => [...line.matchAll(/expect: (TS\d+)/g)].map((m) => `${i + 1}:${m[1]}`));
    assert.equal(expected.length, 3);
    assert.deepEqual(reported.sort(), expected.sort(), compiled.stdout);
  });
});
