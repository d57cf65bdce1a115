/**
 * Metrics as a user meets them: `retopy serve --metrics` as a child process (dist/, so
 * `npm run build` first; `npm test` does), scraped over HTTP; and a fresh project where
 * the optional peer dependency prom-client is not installed, where turning metrics on
 * fails with an error naming the package and everything else works.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { CliProcess, ROOT } from "./cli-process.js";
import { packRetopy, unpackRetopy } from "./packed.js";
import { TextClient } from "./support.js";

const running = new Set<CliProcess>();
afterEach(() => {
  for (const child of running) child.kill();
  running.clear();
});

function cli(...args: string[]): CliProcess {
  const child = new CliProcess(args);
  running.add(child);
  return child;
}

describe("retopy serve --metrics", () => {
  test("serves /metrics on 127.0.0.1, says where on stderr, and counts the commands it ran", async () => {
    const child = cli("serve", "examples/kv.ts", "--port", "0", "--metrics=0");
    const port = await child.port();
    await child.waitForStderr("retopy: metrics at ");
    const url = /retopy: metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(child.stderr)?.[1];
    assert.ok(url, child.stderr);
    const client = await TextClient.connect(port);
    assert.equal(await client.command("set a 1"), "+OK");
    assert.equal(await client.command("incr a"), "2");
    client.close();
    const text = await (await fetch(url)).text();
    assert.match(text, /^retopy_commands_total\{command="set",outcome="ok"\} 1$/m);
    assert.match(text, /^retopy_commands_total\{command="incr",outcome="ok"\} 1$/m);
    assert.match(text, /^# TYPE retopy_command_duration_seconds histogram$/m);
  });

  test("a port that is not one is refused before the module loads (exit 2)", async () => {
    const child = cli("serve", "examples/kv.ts", "--port", "0", "--metrics=http");
    const exit = await child.exit();
    assert.equal(exit.code, 2);
    assert.match(child.stderr, /--metrics/);
  });
});

describe("a project without prom-client", () => {
  const project = mkdtempSync(join(tmpdir(), "retopy-no-prom-"));
  after(() => rmSync(project, { recursive: true, force: true }));
  // retopy as installed from the packed tarball, with its dependencies and nothing else.
  const modules = join(project, "node_modules");
  before(() => {
    unpackRetopy(packRetopy(project), project);
    for (const dependency of ["nanoid", "pino", "xstate"]) symlinkSync(join(ROOT, "node_modules", dependency), join(modules, dependency), "dir");
  });
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", type: "module" }));
  writeFileSync(
    join(project, "app.mjs"),
    `import { Application } from "retopy";\nconst app = new Application();\napp.command("hi", {}, () => "hello");\nexport default app;\n`,
  );
  writeFileSync(
    join(project, "main.mjs"),
    [
      `import { RetopyServer } from "retopy";`,
      `import app from "./app.mjs";`,
      `const plain = new RetopyServer(app, { logger: false });`,
      `await plain.listen({ port: 0, host: "127.0.0.1" });`,
      `console.log("plain server listens");`,
      `await plain.close();`,
      `const withMetrics = new RetopyServer(app, { logger: false, metrics: { port: 0 } });`,
      `try { await withMetrics.listen({ port: 0, host: "127.0.0.1" }); console.log("listened?!"); }`,
      `catch (error) { console.log(error.code, error.message); }`,
      `await withMetrics.close();`,
    ].join("\n"),
  );

  test("the server runs without it; metrics reject listen() with RETOPY_MISSING_PEER naming the package", () => {
    const run = spawnSync(process.execPath, ["main.mjs"], { cwd: project, encoding: "utf8", timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(
      run.stdout,
      "plain server listens\nRETOPY_MISSING_PEER RETOPY_MISSING_PEER: the metrics option needs prom-client (an optional peer dependency of retopy): npm install prom-client\n",
    );
  });

  test("retopy serve --metrics exits 1 with the same message", () => {
    const cliPath = join(modules, "retopy", "dist", "src", "cli.js");
    const run = spawnSync(process.execPath, [cliPath, "serve", "app.mjs", "--port", "0", "--metrics=0"], { cwd: project, encoding: "utf8", timeout: 20_000 });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /the metrics option needs prom-client \(an optional peer dependency of retopy\): npm install prom-client/);
  });
});
