/**
 * README.md and docs/*.md as a reader uses them: every relative link leads somewhere, and
 * every TypeScript or JavaScript sample compiles against the built package (imported as
 * "retopy", as a user's code would) and runs as shown.
 *
 * The samples are compiled and run in a fresh project where "retopy" is the packed tarball
 * (`npm pack` of the build), as a user who copies them has it, with its dependencies and
 * tsx linked from this checkout. A sample runs in a child process through tsx. The only
 * change made for the test is the port (test/fixtures/doc-sample-preload.mjs): a sample's
 * server listens on a free one on 127.0.0.1, and its clients reach the sample's own server,
 * or else examples/counter.ts served by this test. A sample that serves must answer a
 * request; one that ends must exit 0.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import tls from "node:tls";
import { dirname, join, relative, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import ts from "typescript";
import { RetopyServer } from "../src/index.js";
import { app as counterApp } from "../examples/counter.js";
import { anchorsOf, documentFiles, relativeLinksOf, ROOT, type Sample, samplesOf } from "./doc-samples.js";
import { packRetopy, unpackRetopy } from "./packed.js";

/** The consumer project the samples are saved in (made at load: the samples' file names need it). */
const SCRATCH = mkdtempSync(join(tmpdir(), "retopy-doc-samples-"));
const PRELOAD = join(ROOT, "test", "fixtures", "doc-sample-preload.mjs");
/** Long enough for tsx to compile a sample on a loaded CI machine; a sample that hangs fails. */
const SAMPLE_DEADLINE_MS = 60_000;

const samples: { sample: Sample; file: string }[] = documentFiles()
  .flatMap(samplesOf)
  .map((sample, i) => ({ sample, file: join(SCRATCH, `${sample.where.replace(/[/:.]/g, "_")}_${i}${sample.extension}`) }));

describe("links in README.md and docs/", () => {
  test("every relative link names a file that exists, and an anchor that file has", () => {
    const broken: string[] = [];
    for (const doc of documentFiles()) {
      for (const { where, target } of relativeLinksOf(doc)) {
        const [path, anchor] = target.split("#", 2) as [string, string | undefined];
        const file = path === "" ? doc : resolve(dirname(doc), decodeURIComponent(path));
        if (!existsSync(file)) broken.push(`${where}: ${target} (no such file)`);
        else if (anchor !== undefined && file.endsWith(".md") && !anchorsOf(file).has(anchor)) {
          broken.push(`${where}: ${target} (no heading #${anchor} in ${relative(ROOT, file)})`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  test("the README links every guide in docs/", () => {
    const linked = new Set(relativeLinksOf(join(ROOT, "README.md")).map(({ target }) => target.split("#")[0]));
    const guides = documentFiles().slice(1).map((file) => relative(ROOT, file));
    assert.deepEqual(guides.filter((guide) => !linked.has(guide)), []);
  });
});

describe("code samples in README.md and docs/", () => {
  let server: RetopyServer;
  let tlsServer: RetopyServer;
  const ports = { plain: 0, tls: 0 };

  before(async () => {
    writeFileSync(join(SCRATCH, "package.json"), JSON.stringify({ name: "doc-samples", version: "1.0.0", type: "module", private: true }));
    unpackRetopy(packRetopy(SCRATCH), SCRATCH);
    for (const entry of readdirSync(join(ROOT, "node_modules"))) {
      if (entry !== ".bin") symlinkSync(join(ROOT, "node_modules", entry), join(SCRATCH, "node_modules", entry), "dir");
    }
    for (const { sample, file } of samples) writeFileSync(file, sample.code);
    // The TLS samples read key.pem and cert.pem from where they run, as the guide makes them.
    const made = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
      { cwd: SCRATCH, stdio: "ignore" },
    );
    assert.equal(made.status, 0, "openssl made the samples' certificate");
    server = new RetopyServer(counterApp, { logger: false });
    ports.plain = (await server.listen({ port: 0, host: "127.0.0.1" })).port;
    tlsServer = new RetopyServer(counterApp, { logger: false });
    const tlsFiles = { key: readFileSync(join(SCRATCH, "key.pem")), cert: readFileSync(join(SCRATCH, "cert.pem")) };
    ports.tls = (await tlsServer.listen({ port: 0, host: "127.0.0.1", tls: tlsFiles })).port;
  });

  after(async () => {
    await server?.close();
    await tlsServer?.close();
    rmSync(SCRATCH, { recursive: true, force: true });
  });

  test("there are samples, and each is a whole module (no imports of files the reader does not have)", () => {
    assert.ok(samples.length >= 10, `found ${samples.length} samples`);
    for (const { sample } of samples) {
      assert.doesNotMatch(sample.code, /from\s+["']\.\.?\//, `${sample.where} imports a relative file`);
    }
  });

  test("every sample compiles against the packed package: TypeScript as `tsc --init` sets it up, JavaScript as checkJs reads it", () => {
    const whereOf = new Map(samples.map(({ sample, file }) => [resolve(file), sample.where]));
    const typescript = samples.filter(({ sample }) => /ts$/.test(sample.extension)).map(({ file }) => file);
    const javascript = samples.filter(({ sample }) => /js$/.test(sample.extension)).map(({ file }) => file);
    const common: ts.CompilerOptions = {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      noEmit: true,
      skipLibCheck: true,
      types: ["node"],
    };
    const problems = [
      ...diagnostics(typescript, { ...common, strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true }, whereOf),
      // Plain JavaScript has no annotations to give: what is checked is that every name and
      // member it uses exists, with the types the package declares.
      ...diagnostics(javascript, { ...common, allowJs: true, checkJs: true, strict: false }, whereOf),
    ];
    assert.deepEqual(problems, []);
  });

  for (const { sample, file } of samples) {
    test(`${sample.where} runs as shown`, { skip: sample.mode === "compile-only" && "compile-only, as the document says" }, async () => {
      const outcome = await runSample(file, ports, /\btls\s*:/.test(sample.code));
      if (outcome.listening !== null) {
        assert.ok(outcome.answered, `${sample.where}: its server answered a request\n${outcome.stderr}`);
      } else {
        assert.equal(outcome.code, 0, `${sample.where} exits 0\n--- stdout\n${outcome.stdout}\n--- stderr\n${outcome.stderr}`);
      }
    });
  }
});

/** tsc's complaints about `files`, each at its line in the document the sample comes from. */
function diagnostics(files: string[], options: ts.CompilerOptions, whereOf: Map<string, string>): string[] {
  if (files.length === 0) return [];
  const program = ts.createProgram(files, options);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (!d.file || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const where = whereOf.get(resolve(d.file.fileName)) ?? d.file.fileName;
    // `where` is the opening fence's line: the sample's first line is the one after it.
    const [doc, fence] = where.split(":");
    return `${doc}:${Number(fence) + 1 + line}: ${message}`;
  });
}

interface Outcome {
  code: number | null;
  listening: number | null;
  answered: boolean;
  stdout: string;
  stderr: string;
}

/**
 * Runs one sample. A sample that listens is probed with a RESP request (any reply will do:
 * the server is up and speaking), given a moment to end by itself, then stopped.
 */
function runSample(file: string, ports: { plain: number; tls: number }, overTls: boolean): Promise<Outcome> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--import", PRELOAD, file], {
      cwd: SCRATCH,
      env: { ...process.env, DOC_SAMPLE_SERVER_PORT: String(ports.plain), DOC_SAMPLE_TLS_SERVER_PORT: String(ports.tls), NODE_NO_WARNINGS: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const outcome: Outcome = { code: null, listening: null, answered: false, stdout: "", stderr: "" };
    const deadline = setTimeout(() => child.kill("SIGKILL"), SAMPLE_DEADLINE_MS);
    child.stdout.on("data", (chunk: Buffer) => (outcome.stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      outcome.stderr += chunk;
      // The sample's own server is the one it asked a port of (an inspector's page asks none).
      const listening = /doc-sample listening (\d+) asked [1-9]/.exec(outcome.stderr);
      if (listening && outcome.listening === null) {
        outcome.listening = Number(listening[1]);
        probe(outcome.listening, overTls).then(
          (answered) => {
            outcome.answered = answered;
            setTimeout(() => child.kill("SIGTERM"), 500);
          },
          reject,
        );
      }
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(deadline);
      outcome.code = code;
      resolvePromise(outcome);
    });
  });
}

/** True when the server at `port` answers a RESP request with anything at all. */
function probe(port: number, overTls: boolean): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const request = "*1\r\n$8\r\nCOMMANDS\r\n";
    const socket = overTls
      ? tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false }, () => socket.write(request))
      : net.connect(port, "127.0.0.1", () => socket.write(request));
    const timer = setTimeout(() => finish(false), 10_000);
    const finish = (answered: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolvePromise(answered);
    };
    socket.once("data", () => finish(true));
    socket.once("error", () => finish(false));
    socket.once("close", () => finish(false));
  });
}
