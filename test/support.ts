/**
 * Shared test helpers: a real server on 127.0.0.1 and a real TCP client that reads CRLF
 * lines. Nothing here mocks a socket; every test talks to the server over the loopback.
 */
import { spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { after } from "node:test";
import { Application, RetopyServer, type RetopyServerOptions } from "../src/index.js";

/**
 * For suites whose apps have logins but test pub/sub with clients that never log in: with
 * `authenticate` set, SUBSCRIBE, PSUBSCRIBE, PUBLISH and PUBSUB need a login by default.
 */
export const OPEN_PUBSUB = { subscribe: false, psubscribe: false, publish: false, pubsub: false } as const;

export interface Running {
  server: RetopyServer;
  port: number;
  close(): Promise<void>;
}

/** Starts `app` on a free port of 127.0.0.1 with logging off (unless options say otherwise). */
export async function startServer(app: Application, options: RetopyServerOptions = {}): Promise<Running> {
  const server = new RetopyServer(app, { logger: false, ...options });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  return { server, port, close: () => server.close({ timeout: 2000 }).then(() => undefined) };
}

/** Servers and clients that close themselves when the suite that made them ends. */
export interface TestBed {
  /** Starts `app` as {@link startServer} does. */
  start(app: Application, options?: RetopyServerOptions): Promise<Running>;
  /** Starts `app` as {@link startServer} does and resolves with its port. */
  serve(app: Application, options?: RetopyServerOptions): Promise<number>;
  /** Connects a {@link TextClient} to `port` on 127.0.0.1. */
  open(port: number): Promise<TextClient>;
  /** Every server started so far, in order. */
  readonly servers: readonly Running[];
  /** Every client opened so far, in order. */
  readonly clients: readonly TextClient[];
}

/**
 * Call inside a `describe`: registers that suite's `after` hook, which closes every client
 * opened through the bed, then every server started through it.
 */
export function useTestBed(): TestBed {
  const servers: Running[] = [];
  const clients: TextClient[] = [];
  after(async () => {
    for (const client of clients) client.close();
    await Promise.all(servers.map((r) => r.close()));
  });
  const start = async (app: Application, options?: RetopyServerOptions): Promise<Running> => {
    const r = await startServer(app, options);
    servers.push(r);
    return r;
  };
  return {
    start,
    serve: async (app, options) => (await start(app, options)).port,
    open: async (port) => {
      const client = await TextClient.connect(port);
      clients.push(client);
      return client;
    },
    servers,
    clients,
  };
}

/** A line-oriented TCP client: what a telnet user or a simple script sees. */
export class TextClient {
  readonly socket: Socket;
  #buffer = "";
  #lines: string[] = [];
  #waiters: Array<() => void> = [];
  #closed = false;
  /** Every byte received, for byte-exact assertions. */
  raw = "";

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.raw += chunk;
      this.#buffer += chunk;
      let index: number;
      while ((index = this.#buffer.indexOf("\r\n")) !== -1) {
        this.#lines.push(this.#buffer.slice(0, index));
        this.#buffer = this.#buffer.slice(index + 2);
      }
      this.#wake();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on("error", () => undefined);
  }

  static async connect(port: number, host = "127.0.0.1"): Promise<TextClient> {
    const socket = connect(port, host);
    await once(socket, "connect");
    return new TextClient(socket);
  }

  /** The same line reader over a socket that is already connected (a TLS socket, say). */
  static over(socket: Socket): TextClient {
    return new TextClient(socket);
  }

  /** Sends one line, CRLF-terminated. */
  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  /** Sends raw bytes as they are. */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves with the next `count` lines, or rejects after `timeoutMs`. */
  async readLines(count: number, timeoutMs = 3000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length < count) {
      if (this.#closed) throw new Error(`connection closed after ${this.#lines.length}/${count} lines: ${JSON.stringify(this.#lines)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${this.#lines.length}/${count} lines: ${JSON.stringify(this.#lines)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.#lines.splice(0, count);
  }

  async readLine(timeoutMs?: number): Promise<string> {
    const [line] = await this.readLines(1, timeoutMs);
    return line!;
  }

  /** Sends a line and returns the single line of its reply. */
  async command(line: string): Promise<string> {
    this.send(line);
    return this.readLine();
  }

  /** Resolves when the server closes the connection (rejects after `timeoutMs`). */
  async closed(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("connection still open");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Lines received but not read yet. */
  get pending(): readonly string[] {
    return this.#lines;
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Polls `predicate` until true or `timeoutMs` passes (bounded; for state that settles asynchronously). */
export async function eventually(predicate: () => boolean, timeoutMs = 2000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits until `client.raw` is at least `length` characters long (bounded); returns it. */
export async function rawLength(client: TextClient, length: number, timeoutMs = 3000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (client.raw.length < length) {
    if (client.isClosed) throw new Error(`closed early; got ${JSON.stringify(client.raw)}`);
    if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(client.raw)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return client.raw;
}

/** How a program run to completion ended, and what it printed. */
export interface ProgramRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to completion with `input` on its stdin (not a terminal), asynchronously,
 * so the servers of this process keep serving it; killed and rejected after `timeoutMs`.
 */
export function runProgram(
  file: string,
  args: readonly string[],
  options: { input?: Buffer | string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ProgramRun> {
  const { input = "", timeoutMs = 15_000, env, cwd } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${file} ${args.join(" ")} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(input);
  });
}
