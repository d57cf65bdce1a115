#!/usr/bin/env node
/**
 * The `retopy` command: serves an Application module over TCP (or TLS with
 * `--tls-cert`/`--tls-key`, live inspection with `--inspect`), and prints the statecharts.
 *
 *   retopy serve examples/counter.ts --port 8000
 *   retopy machines connection --format svg > connection.svg
 *   retopy connect 8000 increment a     (src/shell: one command, stdin's lines, or a shell)
 *
 * Exit codes: 0 clean stop, 1 runtime failure (module, options, listen, forced stop, commands
 * dropped at shutdown, an uncaught exception in the application),
 * 2 usage error. Under `serve`, stdout carries only the log: pino's JSON lines, or pretty
 * lines on a terminal (src/cli-logging.ts); messages for people, like the inspector's address,
 * go to stderr, so scripts and tests can read the bound port from the "listening" line;
 * `machines` prints its diagram to stdout. A module that fails to load prints its stack on
 * stderr after the one-line reason: the stack says where in the module to look.
 */
import cluster from "node:cluster";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism, hostname } from "node:os";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createSecureContext, type TlsOptions } from "node:tls";
import { parseArgs } from "node:util";
import { type Application, isApplication } from "./application.js";
import { cliLoggerOptions, fromFlagOrEnv, LOG_FORMATS, LOG_LEVELS, type LogFormat } from "./cli-logging.js";
import { isCommonJsFile } from "./module-format.js";
import { handleProcessFaults } from "./process-faults.js";
import { parseRedisUrl, type RedisTarget } from "./redis-url.js";
import { RetopyServer, type RetopyServerOptions } from "./server.js";
import { allowList } from "./proxy-protocol.js";
import { RetopyError } from "./errors.js";
import type { ClusterMember } from "./cluster/worker.js";
import type { SchedulingPolicy } from "./cluster/primary.js";

const USAGE = `Usage:
  retopy serve <module> [options]   serve the Application exported by <module>
  retopy machines [<machine>]       print a statechart, drawn from the machine itself
  retopy connect [host:]port [cmd]  a redis-cli-style shell (or one command) for any retopy server
  retopy help                       show this help
  retopy --version                  print the version

<module> is a path relative to the current directory (.js, .mjs, .ts, .mts, .cts).
Its default export is an Application or a (sync or async) function returning one;
without a default export, a named export \`app\` is used. A named export \`options\`
(RetopyServerOptions) applies under the flags below.

Options:
  --port <n>          TCP port, 0 picks a free one (default: $PORT, else 8000)
  --host <addr>       address to bind (default: $HOST, else 127.0.0.1)
  --log-level <lvl>   fatal, error, warn, info, debug, trace or silent
                      (default: $RETOPY_LOG_LEVEL, else info; debug adds each connection's
                      open and close)
  --log-format <fmt>  auto, json or pretty (default: $RETOPY_LOG_FORMAT, else auto: pretty
                      through pino-pretty when stdout is a terminal, JSON lines otherwise)
  --handshake <mode>  auto, line or none (default auto, or the module's options)
  --tls-cert <file>   serve TLS with this PEM certificate (chain); needs --tls-key
  --tls-key <file>    the PEM private key of --tls-cert; needs --tls-cert
  --proxy-protocol    behind HAProxy (send-proxy, send-proxy-v2) or another proxy: every
                      client must start with a PROXY v1/v2 header, and its address is the
                      one retopy reports; a socket without one is closed and logged
  --proxy-protocol-from <list>
                      accept PROXY headers only from these comma-separated addresses and
                      CIDR ranges, e.g. 10.0.0.0/8,127.0.0.1 (implies --proxy-protocol)
  --shutdown-timeout <ms>
                      on SIGTERM/SIGINT, how long running commands may finish before
                      connections are cut (default 5000); exit 1 if any were dropped
  --inspect[=port]    watch the statecharts live in the Stately inspector: serves its page
                      on 127.0.0.1 (port 0 or none: any free one) and prints the address
  --metrics[=port]    Prometheus metrics at http://127.0.0.1:<port>/metrics (default port
                      9464; 0: any free one, printed); needs the package prom-client
  --redis <url>       connect to Redis for the commands (this.server.redis) before
                      serving: redis://[user:password@]host[:port][/db] or rediss://
                      (default: $REDIS_URL, else none); exit 1 if it cannot be reached
  --workers <n|auto>  serve from n worker processes (node:cluster) sharing the port; auto:
                      one per CPU (default: $RETOPY_WORKERS, else 0: one process, no cluster);
                      SIGHUP reloads them one at a time (docs/workers.md)
  --schedule <policy> how workers share connections: rr (the primary deals them out in
                      turn, the default) or none (the kernel picks)
  --worker-start-timeout <ms>
                      a worker that does not listen this long after its fork is killed
                      (default 60000)
  --pubsub <url>      pub/sub through Redis (redis://[[user]:password@]host[:port][/db],
                      rediss:// for TLS), so every process sharing it shares channels
                      (docs/pubsub.md); default: in-process
  -h, --help          show this help
  -v, --version       print the version

Environment (serve; a flag wins over its variable, an empty variable is unset):
  PORT, HOST, RETOPY_LOG_LEVEL, RETOPY_LOG_FORMAT, RETOPY_WORKERS, NO_COLOR (pretty logs
  without colour), REDIS_URL (a password there stays out of ps)

Connect (retopy connect [host:]port [options] [command [args...]]):
  without a command: an interactive shell on a terminal, else one command per stdin line
  --tls               connect with TLS (--cacert <file>: trust this PEM CA; implies --tls)
  --user <u>          log in as <u> (needs a password)
  --password <p>      log in with <p> (or set RETOPY_PASSWORD, which stays out of ps)
  --resp2             speak RESP2 instead of RESP3
  exit code 1 on an error reply or when it cannot connect; history in ~/.retopy_history
  (RETOPY_HISTORY=<file>, empty for none)

Machines (retopy machines [<machine>] [--format <format>], to stdout):
  <machine>           connection (default), supervisor, handler or cluster
  --format <format>   mermaid (default), json, stately (Stately Studio source), dot or svg
`;

const HANDSHAKES = ["auto", "line", "none"];
const SCHEDULES: readonly SchedulingPolicy[] = ["rr", "none"];
/** More workers than this is a typo, not a plan. */
const MAX_WORKERS = 256;
const TS_EXTENSIONS = [".ts", ".mts", ".cts"];

/**
 * A failure that ends the process with `code` and a one-line message on stderr; usage
 * errors add the usage text when the command line's shape is wrong, a hint otherwise.
 */
class CliError extends Error {
  constructor(
    readonly code: 1 | 2,
    message: string,
    readonly showUsage = false,
    /** Printed after the message: the stack of the application's own error, which says where to look. */
    readonly detail: string | undefined = undefined,
  ) {
    super(message);
  }
}

/** A failure of the application's own code (its module, its factory): the message, and its stack. */
function applicationFailure(what: string, error: unknown): CliError {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error && typeof error.stack === "string" ? error.stack : undefined;
  return new CliError(1, `${what}: ${message}`, false, stack);
}

/**
 * The package version. Walks up from this file because it runs from two places:
 * dist/src/cli.js (two levels below the root) and src/cli.ts under tsx (one level).
 */
function readVersion(): string {
  const require = createRequire(import.meta.url);
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = require(file) as { name?: string; version?: string };
      if (pkg.name === "retopy" && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) throw new CliError(1, "cannot find retopy's package.json");
  }
}

function parsePort(value: string, flag = "--port"): number {
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new CliError(2, `${flag} must be an integer from 0 to 65535, not '${value}'`);
  return port;
}

function parseMilliseconds(value: string, flag: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(ms >= 0 && ms <= 2_147_483_647)) throw new CliError(2, `${flag} must be a number of milliseconds, not '${value}'`);
  return ms;
}

/** `--workers`/RETOPY_WORKERS: a count, `auto` (one per CPU), or 0 for no cluster. */
function parseWorkers(setting: { value: string; source: string } | undefined): number {
  if (setting === undefined) return 0;
  if (setting.value === "auto") return availableParallelism();
  const n = /^\d+$/.test(setting.value) ? Number(setting.value) : NaN;
  if (!(n >= 0 && n <= MAX_WORKERS)) throw new CliError(2, `${setting.source} must be auto or an integer from 0 to ${MAX_WORKERS}, not '${setting.value}'`);
  return n;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new CliError(2, `${flag} must be one of ${allowed.join(", ")}, not '${value}'`);
  return value as T;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "no prototype"})`;
  return typeof value;
}

/**
 * Imports the module, registering tsx first for TypeScript: the published CLI runs on
 * plain node, so `.ts` files need a loader that only the user's devDependencies provide.
 */
async function importModule(specifier: string): Promise<Record<string, unknown>> {
  const file = resolve(process.cwd(), specifier);
  if (!existsSync(file)) throw new CliError(1, `cannot find module '${specifier}' (${file})`);
  const typeScript = TS_EXTENSIONS.includes(extname(file));
  const commonJs = typeScript && isCommonJsFile(file);
  if (typeScript) {
    try {
      const { register } = commonJs ? await import("tsx/cjs/api") : await import("tsx/esm/api");
      register();
    } catch {
      throw new CliError(1, "install tsx to serve TypeScript modules (npm i -D tsx)");
    }
  }
  try {
    // A CommonJS module arrives as { default: module.exports }, as import() would give it.
    if (commonJs) return { default: createRequire(file)(file) as unknown };
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw applicationFailure(`cannot load '${specifier}'`, error);
  }
}

/** Finds the Application (and optional options) a module exports; see USAGE for the rules. */
async function loadApplication(specifier: string): Promise<{ app: Application; options: RetopyServerOptions }> {
  let exports = await importModule(specifier);
  // A CommonJS module (a .cts, or a .ts in a non-"module" package) arrives as
  // { default: module.exports }: look inside it for `default`, `app` and `options`.
  const inner = exports.default;
  if (inner && typeof inner === "object" && !isApplication(inner) && ("default" in inner || "app" in inner)) {
    exports = inner as Record<string, unknown>;
  }
  let candidate = exports.default !== undefined ? exports.default : exports.app;
  const source = exports.default !== undefined ? "default export" : "export 'app'";
  if (typeof candidate === "function") {
    try {
      candidate = await (candidate as () => unknown)();
    } catch (error) {
      throw applicationFailure(`the ${source} of '${specifier}' threw`, error);
    }
  }
  if (!isApplication(candidate)) {
    const got = candidate === undefined && source === "export 'app'" ? "neither a default export nor an export 'app'" : `${source} is ${describe(candidate)}`;
    throw new CliError(1, `'${specifier}' must export an Application (default export, a function returning one, or export 'app'): ${got}`);
  }
  const options = exports.options ?? {};
  if (typeof options !== "object" || options === null) {
    throw new CliError(1, `export 'options' of '${specifier}' must be an object, not ${describe(options)}`);
  }
  return { app: candidate, options: options as RetopyServerOptions };
}

/**
 * Stops gracefully on SIGINT/SIGTERM (running commands finish, their replies are sent, for
 * up to `shutdownTimeout` ms): exit 0, or 1 when commands had to be dropped. A second signal
 * means the user is not willing to wait, so exit 1 at once.
 */
function stopOnSignals(server: RetopyServer, shutdownTimeout: number, member: ClusterMember | null): (signal: string) => void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) {
      // A cluster worker hears its primary's drain and the terminal's ^C both: one drain.
      if (signal === "drain" || member) return;
      server.logger.warn({ signal }, "second signal; exiting now");
      process.exit(1);
    }
    stopping = true;
    server.logger.info({ signal }, "shutting down");
    server.close({ timeout: shutdownTimeout }).then(
      ({ droppedCommands }) => {
        if (droppedCommands > 0) server.logger.error({ droppedCommands }, "shut down with commands dropped");
        const code = droppedCommands > 0 ? 1 : 0;
        // A worker's last counts go to the primary first: the whole server's totals keep them.
        if (member) member.finalReport(() => process.exit(code));
        else process.exit(code);
      },
      (error: unknown) => {
        server.logger.error({ err: error }, "close failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return onSignal;
}

interface ServeFlags {
  port?: string | undefined;
  host?: string | undefined;
  "log-level"?: string | undefined;
  "log-format"?: string | undefined;
  handshake?: string | undefined;
  "tls-cert"?: string | undefined;
  "tls-key"?: string | undefined;
  inspect?: string | undefined;
  metrics?: string | undefined;
  redis?: string | undefined;
  pubsub?: string | undefined;
  "shutdown-timeout"?: string | undefined;
  "proxy-protocol"?: boolean | undefined;
  "proxy-protocol-from"?: string | undefined;
  workers?: string | undefined;
  schedule?: string | undefined;
  "worker-start-timeout"?: string | undefined;
}

/** `--pubsub <url>`: the Redis transport's target; a bad URL is a usage error, said without its password. */
function pubsubFromFlag(url: string): RedisTarget {
  try {
    return parseRedisUrl(url);
  } catch (error) {
    throw new CliError(2, `--pubsub: ${error instanceof Error ? error.message.replace(/^RETOPY_INVALID_OPTION: /, "") : String(error)}`);
  }
}

/** `--metrics` alone: the port of OpenTelemetry's Prometheus exporter, a fixed one a scrape config can name. */
const DEFAULT_METRICS_PORT = 9464;

function readPemFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(resolve(process.cwd(), path));
  } catch (error) {
    // Node's message is one line and names the reason: "ENOENT: no such file or directory, open '...'".
    throw new CliError(1, `cannot read ${flag} '${path}': ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The TLS options of `--tls-cert`/`--tls-key`, or undefined for plain TCP. The pair is
 * checked here, before the module loads, so a wrong file fails fast and is named.
 */
function tlsFromFlags(flags: ServeFlags): TlsOptions | undefined {
  const certPath = flags["tls-cert"];
  const keyPath = flags["tls-key"];
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) {
    const [given, missing] = certPath === undefined ? ["--tls-key", "--tls-cert"] : ["--tls-cert", "--tls-key"];
    throw new CliError(2, `${given} needs ${missing}: give both or neither`);
  }
  const tls = { cert: readPemFile("--tls-cert", certPath), key: readPemFile("--tls-key", keyPath) };
  try {
    createSecureContext(tls);
  } catch (error) {
    // OpenSSL's reason: "DECODER routines::unsupported" for a file that is not PEM, "key values mismatch" for a wrong pair.
    throw new CliError(1, `cannot use --tls-cert '${certPath}' with --tls-key '${keyPath}': ${error instanceof Error ? error.message : String(error)}`);
  }
  return tls;
}

async function serve(specifier: string | undefined, flags: ServeFlags): Promise<void> {
  if (!specifier) throw new CliError(2, "serve needs a module path", true);
  // Flags (and the environment) are checked before the module loads: a typo should not cost a TypeScript compile.
  const portSetting = fromFlagOrEnv(flags.port, "--port", "PORT");
  const port = portSetting ? parsePort(portSetting.value, portSetting.source) : 8000;
  const host = fromFlagOrEnv(flags.host, "--host", "HOST")?.value ?? "127.0.0.1";
  const levelSetting = fromFlagOrEnv(flags["log-level"], "--log-level", "RETOPY_LOG_LEVEL");
  const level = levelSetting && oneOf(levelSetting.source, levelSetting.value, LOG_LEVELS);
  const formatSetting = fromFlagOrEnv(flags["log-format"], "--log-format", "RETOPY_LOG_FORMAT");
  const format = (formatSetting ? oneOf(formatSetting.source, formatSetting.value, LOG_FORMATS) : "auto") as LogFormat;
  const handshake = flags.handshake;
  if (handshake !== undefined) oneOf("--handshake", handshake, HANDSHAKES);
  const tls = tlsFromFlags(flags);
  const shutdownTimeout = parseMilliseconds(flags["shutdown-timeout"] ?? "5000", "--shutdown-timeout");
  // `--inspect` alone arrives as "" (see parseCommandLine): any free port.
  const inspectPort = flags.inspect === undefined ? undefined : flags.inspect === "" ? 0 : parsePort(flags.inspect, "--inspect");
  const metricsPort = flags.metrics === undefined ? undefined : flags.metrics === "" ? DEFAULT_METRICS_PORT : parsePort(flags.metrics, "--metrics");
  const redisSetting = fromFlagOrEnv(flags.redis, "--redis", "REDIS_URL");
  if (redisSetting) {
    try {
      parseRedisUrl(redisSetting.value);
    } catch (error) {
      // The message masks the password, and names what is wrong.
      throw new CliError(2, `${redisSetting.source}: ${error instanceof Error ? error.message.replace(/^RETOPY_INVALID_OPTION: /, "") : String(error)}`);
    }
  }
  const proxyFrom = flags["proxy-protocol-from"]?.split(",").map((entry) => entry.trim());
  if (proxyFrom !== undefined) {
    try {
      allowList(proxyFrom);
    } catch (error) {
      throw new CliError(2, `--proxy-protocol-from: ${error instanceof RetopyError ? error.message.replace(/^proxyProtocol\.allowFrom: /, "") : String(error)}`);
    }
  }
  const pubsub = flags.pubsub === undefined ? undefined : pubsubFromFlag(flags.pubsub);

  const workers = parseWorkers(fromFlagOrEnv(flags.workers, "--workers", "RETOPY_WORKERS"));
  const schedule = oneOf("--schedule", flags.schedule ?? "rr", SCHEDULES);
  const startTimeout = parseMilliseconds(flags["worker-start-timeout"] ?? "60000", "--worker-start-timeout");
  if ((flags.schedule !== undefined || flags["worker-start-timeout"] !== undefined) && workers === 0) {
    throw new CliError(2, `${flags.schedule !== undefined ? "--schedule" : "--worker-start-timeout"} needs --workers`);
  }
  // Each worker would serve its own figures on the shared port, which is worse than none.
  if (workers > 0 && metricsPort !== undefined) throw new CliError(2, "--metrics does not work with --workers yet (each worker would answer with its own figures)");

  if (workers > 0 && cluster.isPrimary) {
    // The primary never loads the module (its state and faults belong to the workers); a
    // missing file is still worth failing fast for.
    if (!existsSync(resolve(process.cwd(), specifier))) throw new CliError(1, `cannot find module '${specifier}' (${resolve(process.cwd(), specifier)})`);
    const { createLogger } = await import("./logger.js");
    const { runPrimary } = await import("./cluster/primary.js");
    let logger;
    try {
      logger = createLogger({ ...(await cliLoggerOptions(level ?? "info", format, process.stdout.isTTY === true)), base: { pid: process.pid, hostname: hostname(), role: "primary" } });
    } catch (error) {
      throw new CliError(1, error instanceof Error ? error.message : String(error));
    }
    const inspect = inspectPort === undefined ? undefined : { port: inspectPort, host: "127.0.0.1" };
    process.exitCode = await runPrimary({ workers, schedule, shutdownTimeout, startTimeout, logger, inspect });
    process.exit();
  }
  const workerId = workers > 0 && cluster.isWorker ? (cluster.worker?.id ?? null) : null;

  const { app, options } = await loadApplication(specifier);
  // The module's options, overridden by the flags that were actually given.
  const merged: RetopyServerOptions = { ...options };
  if (level !== undefined || merged.logger === undefined) {
    try {
      merged.logger = await cliLoggerOptions(level ?? "info", format, process.stdout.isTTY === true);
      // Every worker's line says which worker wrote it.
      if (workerId !== null) merged.logger = { ...merged.logger, base: { pid: process.pid, hostname: hostname(), worker: workerId } };
    } catch (error) {
      throw new CliError(1, error instanceof Error ? error.message : String(error));
    }
  }
  if (handshake !== undefined) merged.handshake = handshake as RetopyServerOptions["handshake"];
  if (redisSetting) merged.redis = redisSetting.value;
  if (proxyFrom !== undefined) merged.proxyProtocol = { allowFrom: proxyFrom };
  else if (flags["proxy-protocol"] && !merged.proxyProtocol) merged.proxyProtocol = true; // keeps the module's allowFrom
  // Under --workers the primary's inspector shows the cluster; a worker's own actors are not inspected.
  if (workerId !== null) merged.inspect = false;
  else if (inspectPort !== undefined) {
    const fromModule = typeof merged.inspect === "object" ? merged.inspect : {};
    merged.inspect = { ...fromModule, port: inspectPort, host: "127.0.0.1" };
  }
  if (metricsPort !== undefined) {
    const fromModule = typeof merged.metrics === "object" ? merged.metrics : {};
    merged.metrics = { ...fromModule, port: metricsPort, host: "127.0.0.1" };
  }
  if (pubsub !== undefined) merged.pubsub = pubsub;
  else if (workerId !== null && merged.pubsub === undefined) {
    // Under --workers, channels span every worker through the primary (src/pubsub/cluster-primary.ts).
    const { ClusterRelayTransport } = await import("./pubsub/cluster-relay.js");
    merged.pubsub = new ClusterRelayTransport();
  }

  let server: RetopyServer;
  try {
    server = new RetopyServer(app, merged);
  } catch (error) {
    throw new CliError(1, error instanceof Error ? error.message : String(error));
  }
  let member: ClusterMember | null = null;
  let drain: (signal: string) => void = () => undefined;
  if (workerId !== null) {
    const { joinCluster } = await import("./cluster/worker.js");
    // SIGHUP is the primary's (a reload); a terminal's hangup must not kill the workers.
    process.on("SIGHUP", () => undefined);
    member = await joinCluster(server, () => drain("drain"));
  }
  try {
    await server.listen({ port, host, tls });
  } catch (error) {
    // Node's message already names the address: "listen EADDRINUSE: address already in use 127.0.0.1:8000".
    const from = redisSetting && (error as { code?: unknown } | null)?.code === "RETOPY_REDIS_UNAVAILABLE" ? ` (${redisSetting.source})` : "";
    throw new CliError(1, error instanceof Error ? `${error.message}${from}` : `cannot listen on ${host}:${port}: ${String(error)}`);
  }
  // A handler's stray rejection is logged and the server goes on; an uncaught exception is
  // logged, the server drains and the process exits 1 (src/process-faults.ts).
  handleProcessFaults(server, { shutdownTimeout });
  drain = stopOnSignals(server, shutdownTimeout, member);
  const bound = server.address();
  if (member && bound) member.announceListening(bound.port, bound.address);
  // stderr, not stdout: stdout carries only pino's lines (the log has the "inspector listening" line too).
  if (server.inspectorUrl) process.stderr.write(`retopy: inspector at ${server.inspectorUrl} (open it in a browser)\n`);
  const metricsAt = server.metricsAddress();
  if (metricsAt) process.stderr.write(`retopy: metrics at http://${metricsAt.address}:${metricsAt.port}/metrics\n`);
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      // `--inspect` takes an optional value, which parseArgs has no notion of.
      args: argv.map((arg) => (arg === "--inspect" || arg === "--metrics" ? `${arg}=` : arg)),
      allowPositionals: true,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        handshake: { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        inspect: { type: "string" },
        metrics: { type: "string" },
        redis: { type: "string" },
        pubsub: { type: "string" },
        "shutdown-timeout": { type: "string" },
        "proxy-protocol": { type: "boolean" },
        "proxy-protocol-from": { type: "string" },
        workers: { type: "string" },
        schedule: { type: "string" },
        "worker-start-timeout": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (error) {
    // Unknown options and missing option values: parseArgs's message names the flag.
    throw new CliError(2, error instanceof Error ? error.message : String(error));
  }
}

/**
 * `retopy machines [<machine>] [--format <format>]`: one statechart on stdout, built from
 * the machine object itself. Loaded on demand, so `serve` never loads the renderers or the
 * Graphviz WebAssembly behind `svg`.
 */
async function machines(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { format: { type: "string", short: "f" }, help: { type: "boolean", short: "h" } } });
  } catch (error) {
    throw new CliError(2, error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { CHART_FORMATS, DEFAULT_FORMAT, DEFAULT_MACHINE, MACHINE_NAMES, renderMachine } = await import("./statecharts/index.js");
  const [name = DEFAULT_MACHINE, ...extra] = parsed.positionals;
  if (extra.length > 0) throw new CliError(2, `machines takes one machine, got ${parsed.positionals.length}`, true);
  const machine = oneOf("the machine", name, MACHINE_NAMES) as (typeof MACHINE_NAMES)[number];
  const format = oneOf("--format", parsed.values.format ?? DEFAULT_FORMAT, CHART_FORMATS) as (typeof CHART_FORMATS)[number];
  process.stdout.write(await renderMachine(machine, format));
}

/** `retopy connect ...`: the shell in src/shell, loaded on demand; exits with its code. */
async function connect(argv: string[]): Promise<void> {
  if (argv[0] === "-h" || argv[0] === "--help") {
    process.stdout.write(USAGE);
    return;
  }
  const { ConnectUsageError, runConnect } = await import("./shell/connect.js");
  let code: number;
  try {
    code = await runConnect(argv);
  } catch (error) {
    if (error instanceof ConnectUsageError) throw new CliError(2, error.message);
    throw error;
  }
  process.exitCode = code;
}

async function main(argv: string[]): Promise<void> {
  // `machines` and `connect` have flags of their own, so they read their own arguments.
  if (argv[0] === "machines") return machines(argv.slice(1));
  if (argv[0] === "connect") return connect(argv.slice(1));
  const { values, positionals } = parseCommandLine(argv);
  const [command, ...rest] = positionals;
  if (values.help || command === "help") {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    process.stdout.write(`${readVersion()}\n`);
    return;
  }
  if (command === "serve") {
    if (rest.length > 1) throw new CliError(2, `serve takes one module, got ${rest.length}`, true);
    return serve(rest[0], values);
  }
  throw new CliError(2, command ? `unknown command '${command}'` : "missing command", true);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof CliError) {
    const more = error.code !== 2 ? "" : error.showUsage ? `\n${USAGE}` : "run 'retopy --help' for usage\n";
    process.stderr.write(`retopy: ${error.message}\n${error.detail === undefined ? "" : `${error.detail}\n`}${more}`);
    process.exit(error.code);
  }
  process.stderr.write(`retopy: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
