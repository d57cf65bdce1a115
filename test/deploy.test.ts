/**
 * The deployment files in deploy/, run as far as this machine can (it has no systemd
 * running and no Docker engine), against the packed package in a fresh project laid out as
 * the files expect (/srv/retopy, /app):
 * - retopy.service: `systemd-analyze verify`; its ExecStart run with its Environment= lines
 *   (PORT made free), then KillSignal: a command in flight is answered and the process exits
 *   0 well within TimeoutStopSec.
 * - Dockerfile: its CMD run with its ENV (PORT free, HOST 127.0.0.1), its HEALTHCHECK
 *   command healthy while the server runs, unhealthy once STOPSIGNAL stopped it.
 * - docs/deployment.md shows each of these files exactly (haproxy.cfg runs in
 *   test/proxy-protocol.haproxy.test.ts).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "./cli-process.js";
import { packRetopy, unpackRetopy } from "./packed.js";
import { freePort } from "./redis-support.js";
import { runProgram } from "./support.js";

const DEPLOY = join(ROOT, "deploy");
const read = (name: string) => readFileSync(join(DEPLOY, name), "utf8");

/** The application both files serve: a slow command (to catch a drain) and whoami. */
const APP = `import { setTimeout as sleep } from "node:timers/promises";
import { Application } from "retopy";

export default new Application()
  .command("slow", { help: "Answers after a moment." }, async (handler) => {
    handler.connection.logger.info("slow started");
    await sleep(300);
    return "done";
  })
  .command("whoami", { help: "The client's address." }, (handler) => \`\${handler.connection.remoteAddress}:\${handler.connection.remotePort}\`);
`;

let project = "";
const children: ChildProcess[] = [];

before(() => {
  project = mkdtempSync(join(tmpdir(), "retopy-deploy-"));
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "deployed-app", version: "1.0.0", type: "module", private: true }));
  unpackRetopy(packRetopy(project), project);
  for (const entry of readdirSync(join(ROOT, "node_modules"))) {
    if (entry !== ".bin" && entry !== "retopy" && !existsSync(join(project, "node_modules", entry))) {
      symlinkSync(join(ROOT, "node_modules", entry), join(project, "node_modules", entry), "dir");
    }
  }
  writeFileSync(join(project, "app.js"), APP);
  copyFileSync(join(DEPLOY, "healthcheck.mjs"), join(project, "healthcheck.mjs"));
});

after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  if (project) rmSync(project, { recursive: true, force: true });
});

/** Starts a server program; resolves with it and a reader of its log lines once it logged "listening". */
async function startServer(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const child = spawn(file, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = once(child, "close").then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null }));
  const logs = () =>
    stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const waitForLog = async (msg: string) => {
    const deadline = Date.now() + 30_000;
    while (!logs().some((line) => line.msg === msg)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no '${msg}' log line; stdout: ${stdout}\nstderr: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  // Under --workers the primary says when every worker listens.
  await waitForLog(args.includes("--workers") ? "workers listening" : "listening");
  return { child, exited, logs, waitForLog };
}

/** Sends `request` to port, resolves with what came back up to the first CRLF. */
async function ask(port: number, request: string): Promise<string> {
  const socket = connect({ port, host: "127.0.0.1" });
  let text = "";
  socket.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
  socket.on("error", () => undefined);
  socket.write(request);
  const deadline = Date.now() + 10_000;
  while (!text.includes("\r\n") && !socket.destroyed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  socket.destroy();
  return text;
}

/** `Key=value` lines of a unit file (each key may repeat). */
function unitEntries(unit: string): [string, string][] {
  return unit
    .split("\n")
    .filter((line) => /^[A-Za-z]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]);
}

describe("deploy/retopy.service", () => {
  const unit = read("retopy.service");
  const entries = unitEntries(unit);
  const value = (key: string) => entries.find(([k]) => k === key)?.[1];

  it("systemd-analyze verify finds nothing to say about it", { skip: spawnSync("systemd-analyze", ["--version"]).status !== 0 && "no systemd-analyze here" }, () => {
    const verified = spawnSync("systemd-analyze", ["verify", join(DEPLOY, "retopy.service")], { encoding: "utf8", timeout: 60_000 });
    const about = `${verified.stdout}${verified.stderr}`.split("\n").filter((line) => line.includes("retopy.service"));
    assert.equal(verified.status, 0, verified.stderr);
    assert.deepEqual(about, []);
  });

  it("ExecStart serves with the unit's environment behind the PROXY protocol; SIGTERM drains and exits 0 within TimeoutStopSec", async () => {
    assert.equal(value("KillSignal"), "SIGTERM");
    // The primary drains its workers; systemd must not signal them behind its back.
    assert.equal(value("KillMode"), "mixed");
    assert.equal(value("Restart"), "on-failure");
    assert.match(value("LimitNOFILE") ?? "", /^\d+$/);
    const execStart = value("ExecStart")!.split(" ");
    const shutdownTimeout = Number(execStart[execStart.indexOf("--shutdown-timeout") + 1]);
    const stopSeconds = Number(value("TimeoutStopSec"));
    assert.ok(stopSeconds * 1000 > shutdownTimeout, `TimeoutStopSec (${stopSeconds} s) outlasts --shutdown-timeout (${shutdownTimeout} ms)`);

    // /srv/retopy is the fresh project; PORT is made free; nothing else changes.
    const at = (text: string) => text.replaceAll("/srv/retopy", project);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
    for (const [key, setting] of entries) if (key === "Environment") env[setting.slice(0, setting.indexOf("="))] = setting.slice(setting.indexOf("=") + 1);
    env.PORT = String(port);
    const [file, ...args] = execStart.map(at);
    const server = await startServer(file!, args, at(value("WorkingDirectory")!), env);
    assert.equal(await ask(port, "PROXY TCP4 198.51.100.4 127.0.0.1 4242 8000\r\nwhoami\r\n"), "198.51.100.4:4242\r\n");
    assert.equal(await ask(port, "whoami\r\n"), "", "a client without a PROXY header is refused");

    // A command in flight when systemd stops the service is answered before the exit.
    const socket = connect({ port, host: "127.0.0.1" });
    let reply = "";
    socket.setEncoding("utf8").on("data", (chunk: string) => (reply += chunk));
    socket.write("PROXY TCP4 198.51.100.4 127.0.0.1 4243 8000\r\nslow\r\n");
    await server.waitForLog("slow started");
    server.child.kill(value("KillSignal") as NodeJS.Signals);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      server.exited,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("still running at TimeoutStopSec")), stopSeconds * 1000))),
    ]);
    clearTimeout(timer);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(reply, "done\r\n");
    socket.destroy();
  });
});

describe("deploy/Dockerfile", () => {
  const dockerfile = read("Dockerfile").replace(/\\\n\s*/g, "");
  const lines = dockerfile.split("\n");
  const instruction = (name: string) => lines.filter((line) => line.startsWith(`${name} `)).map((line) => line.slice(name.length + 1));
  const execForm = (text: string) => JSON.parse(text.slice(text.indexOf("["))) as string[];

  it("its CMD serves with its ENV; its HEALTHCHECK is healthy while it runs and unhealthy once STOPSIGNAL stopped it", async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
    for (const line of instruction("ENV")) for (const [, key, val] of line.matchAll(/(\w+)=(\S+)/g)) env[key!] = val;
    assert.equal(env.PORT, "8000");
    // On this machine: a free port, and loopback rather than every interface.
    const port = await freePort();
    Object.assign(env, { PORT: String(port), HOST: "127.0.0.1" });
    const [cmd] = instruction("CMD").map(execForm);
    const [healthcheck] = instruction("HEALTHCHECK").map(execForm);
    assert.ok(cmd && healthcheck, "the Dockerfile has CMD and HEALTHCHECK in exec form");
    assert.equal(cmd[0], "node");
    assert.equal(healthcheck[0], "node");
    const copied = instruction("COPY").flatMap((line) => line.split(" ").slice(0, -1));
    for (const file of ["app.js", "healthcheck.mjs", "package.json"]) assert.ok(copied.includes(file), `the image gets ${file}`);

    const server = await startServer(process.execPath, cmd.slice(1), project, env);
    const healthy = await runProgram(process.execPath, healthcheck.slice(1), { cwd: project, env, timeoutMs: 10_000 });
    assert.equal(healthy.code, 0, `healthy while serving: ${healthy.stderr}`);
    assert.equal(server.logs().filter((line) => String(line.msg).startsWith("connection refused")).length, 0, "the check passed the PROXY protocol");
    assert.equal(await ask(port, "PING\r\n"), "", "the image serves behind the PROXY protocol: a bare PING is refused");

    const [stopSignal] = instruction("STOPSIGNAL");
    server.child.kill(stopSignal as NodeJS.Signals);
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    const unhealthy = await runProgram(process.execPath, healthcheck.slice(1), { cwd: project, env, timeoutMs: 10_000 });
    assert.equal(unhealthy.code, 1, "unhealthy once stopped");
  });
});

describe("docs/deployment.md shows the files in deploy/ as they are", () => {
  it("each file is in a block marked `<!-- deploy/NAME -->`, identical to it", () => {
    const guide = readFileSync(join(ROOT, "docs", "deployment.md"), "utf8").split("\n");
    const shown = new Map<string, string>();
    for (let i = 0; i < guide.length; i++) {
      const marker = /^<!-- (deploy\/[\w.-]+) -->$/.exec(guide[i]!);
      if (!marker) continue;
      // A sample's own marker (test/doc-samples.ts) may stand between this one and the fence.
      const fence = guide[i + 1]?.startsWith("<!-- sample:") ? i + 2 : i + 1;
      assert.match(guide[fence] ?? "", /^```/, `${marker[1]}'s marker is followed by a code block`);
      let end = fence + 1;
      while (end < guide.length && !guide[end]!.startsWith("```")) end++;
      shown.set(marker[1]!, guide.slice(fence + 1, end).join("\n") + "\n");
    }
    // deploy/kubernetes/ is docs/bigger-deployments.md's (test/kubernetes-manifests.test.ts checks it).
    for (const entry of readdirSync(DEPLOY, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const name = entry.name;
      assert.ok(shown.has(`deploy/${name}`), `docs/deployment.md shows deploy/${name}`);
      assert.equal(shown.get(`deploy/${name}`), read(name), `docs/deployment.md's deploy/${name} is the file`);
    }
    for (const name of shown.keys()) assert.ok(existsSync(join(ROOT, name)), `${name} exists`);
  });
});
