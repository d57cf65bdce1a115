/**
 * deploy/kubernetes/*.yaml, as far as this machine can check them without a cluster: they
 * parse (PyYAML, Debian's python3-yaml), the Service reaches the Deployment's pods and port,
 * the ports and flags agree with each other, and the container's command and the liveness
 * probe's command, run here as real processes (the app module and the port swapped for this
 * test's), do what the manifest counts on: the server serves with REDIS_URL, PING exits 0
 * while it serves (even with Redis down) and non-zero once it is gone.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CLI, CliProcess, ROOT } from "./cli-process.js";
import { freePort, type RedisServer, startRedisServer } from "./redis-support.js";
import { runProgram } from "./support.js";

const PYTHON = "/usr/bin/python3";
const hasYaml = spawnSync(PYTHON, ["-c", "import yaml"]).status === 0;
/** In CI the parser must be there (python3-yaml comes with the image), so its absence fails there. */
const skip = !hasYaml && !process.env.CI ? "PyYAML is not installed (apt-get install python3-yaml)" : false;

const DIR = join(ROOT, "deploy", "kubernetes");

interface Container {
  name: string;
  command: string[];
  env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  ports: Array<{ name: string; containerPort: number; protocol: string }>;
  readinessProbe: { tcpSocket: { port: string | number } };
  livenessProbe: { exec: { command: string[] } };
}
interface Manifest {
  kind: string;
  spec: {
    selector: { matchLabels?: Record<string, string> } & Record<string, string>;
    template: { metadata: { labels: Record<string, string> }; spec: { terminationGracePeriodSeconds: number; containers: Container[] } };
    ports: Array<{ port: number; targetPort: string | number; protocol: string }>;
  };
}

async function manifests(): Promise<Manifest[]> {
  const script = "import json, sys, yaml\nprint(json.dumps([d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]))";
  const run = await runProgram(PYTHON, ["-c", script, join(DIR, "deployment.yaml"), join(DIR, "service.yaml")]);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as Manifest[];
}

/** The value after `flag` in a command line. */
const flag = (command: readonly string[], name: string): string | undefined => command[command.indexOf(name) + 1];

describe("deploy/kubernetes", { skip }, () => {
  const children: CliProcess[] = [];
  let redis: RedisServer | undefined;
  after(() => {
    for (const child of children) child.kill();
    redis?.stop();
  });

  it("parse, and the Service, ports, probes and flags agree with each other", async () => {
    const docs = await manifests();
    assert.deepEqual(docs.map((doc) => doc.kind), ["Deployment", "Service"]);
    const [deployment, service] = docs as [Manifest, Manifest];
    const labels = deployment.spec.template.metadata.labels;
    assert.deepEqual(deployment.spec.selector.matchLabels, labels);
    assert.deepEqual({ ...service.spec.selector }, labels);
    const [container] = deployment.spec.template.spec.containers as [Container];
    const [port] = container.ports as [Container["ports"][number]];
    assert.equal(service.spec.ports[0]!.targetPort, port.name);
    assert.equal(container.readinessProbe.tcpSocket.port, port.name);
    assert.equal(container.command[1], "serve");
    assert.equal(flag(container.command, "--port"), String(port.containerPort));
    assert.equal(flag(container.command, "--host"), "0.0.0.0", "a pod must listen beyond its loopback");
    const probe = container.livenessProbe.exec.command;
    assert.equal(probe[0], container.command[0]);
    assert.deepEqual(probe.slice(1), ["connect", `127.0.0.1:${port.containerPort}`, "PING"]);
    // SIGTERM's drain must end before Kubernetes sends SIGKILL.
    assert.ok(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000 > Number(flag(container.command, "--shutdown-timeout")));
    // The Redis URL (and its password) comes from a Secret, never from the manifest.
    const url = container.env.find((entry) => entry.name === "REDIS_URL");
    assert.ok(url?.valueFrom?.secretKeyRef && url.value === undefined, JSON.stringify(url));
  });

  it("the container's command serves, and the liveness probe's command passes while it serves and fails once it is gone", { timeout: 60_000 }, async () => {
    const [deployment] = (await manifests()) as [Manifest];
    const [container] = deployment.spec.template.spec.containers as [Container];
    const manifestPort = flag(container.command, "--port")!;
    redis = await startRedisServer();
    // As the manifest says, but this checkout's CLI, an example app, loopback and a free port.
    const port = await freePort();
    const args = container.command.slice(1).map((arg, i, all) => {
      if (all[i - 1] === "serve") return "examples/counter-redis.ts";
      if (all[i - 1] === "--host") return "127.0.0.1";
      if (all[i - 1] === "--port") return String(port);
      return arg;
    });
    const env = Object.fromEntries(container.env.filter((entry) => entry.value !== undefined).map((entry) => [entry.name, entry.value!]));
    const server = new CliProcess(args, { env: { ...env, REDIS_URL: `redis://127.0.0.1:${redis.port}` } });
    children.push(server);
    assert.equal(await server.port(), port);
    // The readiness probe: a TCP connect.
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.destroy();
    const probe = () => {
      const [, ...rest] = container.livenessProbe.exec.command;
      return runProgram(process.execPath, [CLI, ...rest.map((arg) => arg.replace(`:${manifestPort}`, `:${port}`))], { cwd: ROOT });
    };
    const alive = await probe();
    assert.equal(alive.code, 0, alive.stderr);
    assert.match(alive.stdout, /PONG/);
    // Redis down is no reason to restart the pods: the probe does not depend on it.
    redis.stop();
    assert.equal((await probe()).code, 0);
    server.child.kill("SIGTERM");
    assert.deepEqual(await server.exit(), { code: 0, signal: null });
    const gone = await probe();
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /ECONNREFUSED/);
  });
});
