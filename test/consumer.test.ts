/**
 * What a new user gets: `npm pack` once, then the tarball installed into fresh projects
 * (`npm init -y`), each running docs/getting-started.md's samples, read from the doc itself,
 * as a real server checked over TCP by a raw socket and by retopy's own client. Installs are
 * offline: the projects get a lockfile made from retopy's own, whose packages `npm ci` put in
 * the npm cache, so the tarball's dependencies and the projects' typescript/tsx/@types/node
 * come from there.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ROOT } from "./cli-process.js";
import { TextClient } from "./support.js";
import { packRetopy } from "./packed.js";

const run = promisify(execFile);
/**
 * The install of a project with only retopy, in KB of file contents (`du -sk --apparent-size`;
 * it was 21 MB with the optional features as dependencies). On disk it takes more: ~900 small
 * files each round up to a 4 KB block (about 6.9 MB); that figure is printed too.
 */
const MAX_INSTALL_KB = 6000;
const DOC = readFileSync(join(ROOT, "docs", "getting-started.md"), "utf8");
const LOCK = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
/** A clean environment for the children: no loader or flags of this test runner. */
const ENV = { ...process.env, NODE_OPTIONS: "", npm_config_update_notifier: "false", FORCE_COLOR: "0" };

/** The code block that follows `<!-- consumer-test: name -->` in the doc. */
function sample(name: string): string {
  // The doc-samples marker of test/docs.test.ts (`<!-- sample: ... -->`) may sit between.
  const match = new RegExp(`<!-- consumer-test: ${name.replace(/\./g, "\\.")} -->\\n(?:<!-- sample: [^\\n]* -->\\n)?\`\`\`\\w+\\n([\\s\\S]*?)\`\`\``).exec(DOC);
  if (!match) throw new Error(`docs/getting-started.md has no sample '${name}'`);
  return match[1]!;
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never throws, so a test can assert on a failure's output. */
async function sh(cwd: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(command, args, { cwd, env: { ...ENV, ...env }, timeout: 60_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? String(error) };
  }
}

async function ok(cwd: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await sh(cwd, command, args, env);
  assert.equal(result.code, 0, `${command} ${args.join(" ")} failed in ${cwd}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** The shell sample's single command, split on spaces (`npx tsc --init ...`). */
function command(name: string): [string, string[]] {
  const [head, ...rest] = sample(name).trim().split(/\s+/);
  return [head!, rest];
}

let work = "";
let tarball = "";
const children = new Set<ChildProcess>();

before(async () => {
  work = mkdtempSync(join(tmpdir(), "retopy-consumer-"));
  tarball = packRetopy(work);
});

after(() => {
  for (const child of children) child.kill("SIGKILL");
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * `npm init -y` and the tarball installed offline, with `dev` (from retopy's lockfile) as
 * devDependencies. The lockfile lists every package of retopy's; npm keeps what is needed.
 */
async function project(name: string, dev: readonly string[] = []): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir);
  await ok(dir, "npm", ["init", "-y"]);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
  const devDependencies = Object.fromEntries(dev.map((dep) => [dep, LOCK.packages[`node_modules/${dep}`]!.version!]));
  if (dev.length > 0) pkg.devDependencies = devDependencies;
  writeFileSync(join(dir, "package.json"), JSON.stringify(pkg, null, 2));
  const packages: Record<string, unknown> = { "": { name: pkg.name, version: pkg.version, devDependencies } };
  for (const [path, entry] of Object.entries(LOCK.packages)) if (path !== "") packages[path] = entry;
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ name: pkg.name, lockfileVersion: 3, requires: true, packages }));
  await ok(dir, "npm", ["install", "--offline", "--no-audit", "--no-fund", tarball]);
  return dir;
}

/**
 * A project's installed command. Servers run it directly, not through npx, which does not
 * pass SIGTERM on: its child would outlive the test and hold its output open.
 */
function bin(dir: string, name: string): string {
  return join(dir, "node_modules", ".bin", name);
}

function write(dir: string, file: string, text: string): void {
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file), text);
}

/** A long-running child whose output is collected; `port()` finds the address it printed. */
class Server {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;

  constructor(cwd: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(command, args, { cwd, env: { ...ENV, PORT: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    children.add(this.child);
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.exited = once(this.child, "close").then(([code]) => {
      children.delete(this.child);
      return code as number | null;
    });
  }

  /** The port from `listening on 127.0.0.1:<port>` (the samples) or pino's "listening" line (`retopy serve`). */
  async port(): Promise<{ address: string; port: number }> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const printed = /listening on (\S+):(\d+)/.exec(this.stdout);
      if (printed) return { address: printed[1]!, port: Number(printed[2]) };
      const logged = /"address":"([^"]+)","port":(\d+),"msg":"listening"/.exec(this.stdout);
      if (logged) return { address: logged[1]!, port: Number(logged[2]) };
      if (this.child.exitCode !== null) throw new Error(`exited ${this.child.exitCode}:\n${this.stdout}\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no listening line:\n${this.stdout}\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGTERM; the samples close the server on it, and the process ends. */
  async stop(): Promise<number | null> {
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000); // a hung server fails the test, not the run
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/** Starts the server, checks `greet world` over a raw socket on the address it reports (127.0.0.1), stops it. */
async function serveAndGreet(server: Server, check: (port: number) => Promise<void> = async () => undefined): Promise<void> {
  try {
    const { address, port } = await server.port();
    assert.equal(address, "127.0.0.1", "listen(port) binds loopback by default");
    const client = await TextClient.connect(port);
    assert.equal(await client.command("greet world"), "hello world");
    assert.equal(await client.command("greet"), "-ERR wrong number of arguments for 'greet': missing argument 'name' (usage: greet name)");
    client.close();
    await check(port);
  } finally {
    assert.equal(await server.stop(), 0, server.stderr);
  }
  assert.doesNotMatch(server.stderr, /Warning|Error/, "nothing on stderr");
}

/** The `tsc --init` project of the doc: its command, then the server and client samples. */
async function typescriptProject(name: string, init: string): Promise<string> {
  const dir = await project(name, ["typescript", "tsx", "@types/node"]);
  await ok(dir, "npm", ["pkg", "set", "type=module"]);
  const [cmd, args] = command(init);
  await ok(dir, cmd, args);
  write(dir, "src/server.ts", sample("server.ts"));
  write(dir, "src/client.ts", sample("client.ts"));
  write(dir, "src/listen-host.ts", sample("listen-host.ts")); // compiled, not run: it would serve the network
  await ok(dir, "npx", ["tsc"]);
  return dir;
}

/** The client sample, built, against a running server: it prints the reply. */
async function clientSays(dir: string, port: number): Promise<string> {
  return (await ok(dir, "node", ["dist/client.js"], { PORT: String(port) })).trim();
}

describe("consumer: the packed tarball in fresh projects", { timeout: 180_000 }, () => {
  it("ships the built package, docs and LICENSE, and no sources, source maps or install scripts", async () => {
    const files = (await ok(work, "tar", ["tzf", tarball])).split("\n").filter(Boolean);
    for (const file of ["package/LICENSE", "package/README.md", "package/docs/getting-started.md", "package/dist/src/index.js", "package/dist/src/index.d.ts", "package/dist/src/require.cjs", "package/dist/src/client/require.cjs", "package/dist/src/cli.js"]) {
      assert.ok(files.includes(file), `${file} is in the tarball`);
    }
    assert.deepEqual(files.filter((file) => /\.map$|^package\/src\/|^package\/machines\/|^package\/test\//.test(file)), []);
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    for (const script of ["prepare", "preinstall", "install", "postinstall"]) assert.equal(manifest.scripts[script], undefined, script);
  });

  it("ESM TypeScript: tsc --init with the doc's changes builds (exactOptionalPropertyTypes, skipLibCheck false), runs on node and on tsx", async () => {
    const dir = await typescriptProject("esm-tsc", "tsc-init");
    const tsconfig = readFileSync(join(dir, "tsconfig.json"), "utf8");
    assert.match(tsconfig, /"exactOptionalPropertyTypes": true/);
    assert.match(tsconfig, /"verbatimModuleSyntax": true/);
    // retopy's declarations, and everything they reach (@types/node included), checked too.
    // Under exactOptionalPropertyTypes xstate's own declarations have errors of their own;
    // none may be retopy's.
    const strict = await sh(dir, "npx", ["tsc", "--noEmit", "--skipLibCheck", "false"]);
    assert.doesNotMatch(strict.stdout, /node_modules\/retopy\/|^src\//m, strict.stdout);
    assert.match(strict.stdout, /^node_modules\/xstate\//m, "the check ran: xstate's own errors are there");
    await ok(dir, "npx", ["tsc", "--noEmit", "--skipLibCheck", "false", "--exactOptionalPropertyTypes", "false"]);

    await serveAndGreet(new Server(dir, "node", ["dist/server.js"]), async (port) => {
      assert.equal(await clientSays(dir, port), "hello world");
    });
    await serveAndGreet(new Server(dir, bin(dir, "tsx"), ["src/server.ts"]), async (port) => {
      assert.equal(await clientSays(dir, port), "hello world");
    });

    // Why the doc changes target: tsc --init's esnext keeps the decorators, which Node 20 cannot parse.
    await ok(dir, "npx", ["tsc", "--target", "esnext", "--outDir", "dist-esnext"]);
    const crash = await sh(dir, "node", ["dist-esnext/server.js"]);
    assert.notEqual(crash.code, 0);
    assert.match(crash.stderr, /SyntaxError/);
  });

  it("TypeScript with experimentalDecorators (target esnext): builds, runs on node and on tsx", async () => {
    const dir = await typescriptProject("esm-experimental", "tsc-init-experimental");
    assert.match(readFileSync(join(dir, "tsconfig.json"), "utf8"), /"target": "esnext"/);
    await serveAndGreet(new Server(dir, "node", ["dist/server.js"]), async (port) => {
      assert.equal(await clientSays(dir, port), "hello world");
    });
    await serveAndGreet(new Server(dir, bin(dir, "tsx"), ["src/server.ts"]));
  });

  it("plain .mjs with app.command: runs; the install is small; optional features say what to install", async () => {
    const dir = await project("plain-mjs");
    const installed = Number((await ok(dir, "du", ["-sk", "--apparent-size", "node_modules"])).split("\t")[0]);
    const onDisk = Number((await ok(dir, "du", ["-sk", "node_modules"])).split("\t")[0]);
    console.log(`# consumer install: ${installed} KB of files (du -sk --apparent-size), ${onDisk} KB on disk (du -sk)`);
    assert.ok(installed < MAX_INSTALL_KB, `node_modules holds ${installed} KB`);
    assert.deepEqual(
      readdirSync(join(dir, "node_modules")).filter((name) => ["@statelyai", "@viz-js", "ws", "prom-client", "pino-pretty", "typescript", "tsx"].includes(name)),
      [],
      "optional peers are not installed",
    );

    write(dir, "server.mjs", sample("server.mjs"));
    await serveAndGreet(new Server(dir, "node", ["server.mjs"]), async (port) => {
      write(dir, "client.mjs", `import { RetopyClient } from "retopy/client";\nconst c = await RetopyClient.connect({ port: ${port} });\nconsole.log(await c.call("greet", "mjs"));\nc.close();\n`);
      assert.equal((await ok(dir, "node", ["client.mjs"])).trim(), "hello mjs");
    });

    write(dir, "inspect.mjs", `import { Application, RetopyServer } from "retopy";\nconst server = new RetopyServer(new Application(), { logger: false, inspect: true });\nawait server.listen(0).then(() => console.log("listened"), (error) => console.log(error.message));\nawait server.close();\n`);
    assert.equal(
      (await ok(dir, "node", ["inspect.mjs"])).trim(),
      "RETOPY_MISSING_PEER: the inspect option needs @statelyai/inspect and ws (optional peer dependencies of retopy): npm install @statelyai/inspect ws",
    );
    const svg = await sh(dir, "npx", ["retopy", "machines", "--format", "svg"]);
    assert.equal(svg.code, 1);
    assert.match(svg.stderr, /needs @viz-js\/viz .*npm install @viz-js\/viz/);
    assert.match(await ok(dir, "npx", ["retopy", "machines"]), /stateDiagram/);
  });

  it("CommonJS: require('retopy') and 'retopy/client', retopy serve app.cts (and a .ts in a CommonJS package), a clear error without require(esm)", async () => {
    const dir = await project("cjs", ["tsx"]);
    assert.equal((JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { type?: string }).type ?? "commonjs", "commonjs");
    write(dir, "server.cjs", sample("server.cjs"));
    const greet = async (port: number): Promise<void> => {
      const script = `const { RetopyClient } = require("retopy/client");\nRetopyClient.connect({ port: ${port} }).then(async (c) => { console.log(await c.call("greet", "cjs")); c.close(); });\n`;
      const result = await sh(dir, "node", ["-e", script]);
      assert.equal(result.stdout.trim(), "hello cjs", result.stderr);
      assert.equal(result.stderr, "", "no ExperimentalWarning for require(esm) on this Node");
    };
    await serveAndGreet(new Server(dir, "node", ["server.cjs"]), greet);

    write(dir, "app.cts", sample("app.cts"));
    await serveAndGreet(new Server(dir, bin(dir, "retopy"), ["serve", "app.cts", "--port", "0"]), greet);
    write(dir, "app.ts", `import { Application } from "retopy";\n\nexport default new Application().command("greet", { params: ["name"] }, (h) => \`hello \${h.getArgument("name")}\`);\n`);
    await serveAndGreet(new Server(dir, bin(dir, "retopy"), ["serve", "app.ts", "--port", "0"]), greet);

    const old = await sh(dir, "node", ["--no-experimental-require-module", "-e", `require("retopy")`]);
    assert.notEqual(old.code, 0);
    assert.match(old.stderr, /retopy is an ES module; require\("retopy"\) needs Node\.js \^20\.19\.0 or >=22\.12\.0.*await import\("retopy"\)/);
  });
});
