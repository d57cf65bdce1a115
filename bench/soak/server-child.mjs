// The server under test, in a child process (bench/soak/server.mjs) so that a crash is seen
// rather than shared, and its memory, descriptors and CPU time are its own: `server` holds
// its state for every module; the probes read /proc and, for the heap, ask it over IPC.
import { fork } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { IDLE_TIMEOUT_MS, MAX_CONNECTIONS, MAX_OUTPUT_BUFFER, OUTPUT_HIGH_WATER_MARK, ROOT, fail } from "./config.mjs";
import { clock, elapsedSeconds, progress, sleep } from "./clock.mjs";

/** `gone` once it exited; `stopping` once we asked it to (so an exit then is no crash). */
export const server = { child: null, pid: null, port: null, gone: false, stopping: false, exit: null, stderr: "", options: {}, known: [] };

/** Whether the soak still starts new work: before the deadline and while the server lives. */
export const running = () => Date.now() < clock.deadline && !server.gone;

/** VmRSS (or VmHWM, the kernel's record of the peak) of the server in bytes, or null once it is gone. */
export function serverRss(field = "VmRSS") {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(readFileSync(`/proc/${server.pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Open file descriptors of the server (sockets included): a leak shows here first. */
export function serverFds() {
  try {
    return readdirSync(`/proc/${server.pid}/fd`).length;
  } catch {
    return null;
  }
}

/** utime + stime of the server in clock ticks (100 per second on Linux x64). */
export function serverCpuTicks() {
  try {
    const stat = readFileSync(`/proc/${server.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** process.memoryUsage() of the server after a forced GC, over IPC; null on timeout. */
export async function serverMemory() {
  if (server.gone) return null;
  const reply = new Promise((resolve) => {
    const onMessage = (message) => {
      if (message?.type !== "memory") return;
      server.child.off("message", onMessage);
      resolve(message.usage);
    };
    server.child.on("message", onMessage);
  });
  server.child.send("memory");
  return Promise.race([reply, sleep(5000).then(() => null)]);
}

/** No server outlives the soak, however it ends. */
function killServerOnExit() {
  process.on("exit", () => {
    if (server.child && !server.gone) server.child.kill("SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      process.stderr.write(`\nsoak: ${signal}, stopping the server\n`);
      server.child?.kill("SIGKILL");
      process.exit(130);
    });
  }
}

/** Forks the server with the soak's limits and resolves once it listens (`server.port`). */
export async function startServer() {
  killServerOnExit();
  if (!existsSync(new URL("../../dist/src/index.js", import.meta.url))) fail("dist/ is missing: run `npm run build` first");
  const env = {
    ...process.env,
    SOAK_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    SOAK_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
    SOAK_OUTPUT_HIGH_WATER_MARK: String(OUTPUT_HIGH_WATER_MARK),
    SOAK_MAX_OUTPUT_BUFFER: String(MAX_OUTPUT_BUFFER),
  };
  const child = fork(fileURLToPath(new URL("./server.mjs", import.meta.url)), [], {
    cwd: ROOT,
    env,
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  Object.assign(server, { child, pid: child.pid });
  child.stderr.on("data", (chunk) => {
    server.stderr = (server.stderr + chunk).slice(-8000);
  });
  child.once("exit", (code, signal) => {
    server.gone = true;
    server.exit = { code, signal, at: elapsedSeconds() };
    if (!server.stopping) progress(`SERVER EXITED (code ${code}, signal ${signal}): ${server.stderr.trim().split("\n").slice(-5).join(" | ")}`);
  });
  const listening = new Promise((resolve, reject) => {
    child.on("message", (message) => {
      if (message?.type === "options") Object.assign(server, { options: message.options, known: message.known });
      if (message?.type === "listening") resolve(message.port);
    });
    child.once("exit", (code) => reject(new Error(`soak/server.mjs exited (${code}) before listening: ${server.stderr.trim()}`)));
  });
  const timeout = sleep(30_000).then(() => {
    throw new Error("soak/server.mjs did not listen within 30 s");
  });
  server.port = await Promise.race([listening, timeout]);
}

/** SIGTERM, then SIGKILL if it is still there after 5 s. */
export async function stopServer() {
  server.stopping = true;
  const child = server.child;
  if (!child || server.gone) return;
  child.kill("SIGTERM");
  if ((await Promise.race([once(child, "exit"), sleep(5000).then(() => "late")])) === "late") {
    child.kill("SIGKILL");
    await once(child, "exit");
  }
}
