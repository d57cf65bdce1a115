/**
 * The command line of `retopy connect [host:]port [command [args...]]`. Read by hand rather
 * than with parseArgs: everything after the command word belongs to the server (`set k --x`
 * must send `--x`), so flags are only read before it.
 */

export interface ConnectArgs {
  host: string;
  port: number;
  /** TLS on, with an optional CA file (`--cacert` implies `--tls`). */
  tls: boolean;
  cacert?: string;
  user?: string;
  password?: string;
  protocol: "resp3" | "resp2";
  /** The command to run once, or empty for the shell (or stdin's lines). */
  command: string[];
}

/** A malformed `connect` command line: the CLI reports it with exit code 2. */
export class ConnectUsageError extends Error {}

const VALUE_FLAGS = new Set(["--cacert", "--user", "--password"]);

/** `8000`, `host:8000`, `[::1]:8000`. */
export function parseTarget(target: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]:|([^:]*):)?(\d+)$/.exec(target);
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port >= 1 && port <= 65535)) {
    throw new ConnectUsageError(`connect needs [host:]port with a port from 1 to 65535, not '${target}'`);
  }
  return { host: match[1] ?? (match[2] || "127.0.0.1"), port };
}

/** Reads `argv` (the words after `connect`); `env` supplies RETOPY_PASSWORD. */
export function parseConnectArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ConnectArgs {
  const values = new Map<string, string>();
  let tls = false;
  let resp2 = false;
  let target: string | undefined;
  let command: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      const rest = argv.slice(i + 1);
      if (target === undefined) target = rest.shift();
      command = rest;
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg : arg.slice(0, eq);
      if (name === "--tls" || name === "--resp2") {
        if (eq !== -1) throw new ConnectUsageError(`${name} takes no value`);
        if (name === "--tls") tls = true;
        else resp2 = true;
      } else if (VALUE_FLAGS.has(name)) {
        const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
        if (value === undefined) throw new ConnectUsageError(`${name} needs a value`);
        values.set(name, value);
      } else {
        throw new ConnectUsageError(`unknown connect option '${name}'`);
      }
      continue;
    }
    if (target === undefined) {
      target = arg;
      continue;
    }
    command = argv.slice(i);
    break;
  }
  if (target === undefined) throw new ConnectUsageError("connect needs [host:]port");
  const { host, port } = parseTarget(target);
  const password = values.get("--password") ?? (env.RETOPY_PASSWORD || undefined);
  const user = values.get("--user");
  if (user !== undefined && password === undefined) throw new ConnectUsageError("--user needs --password (or RETOPY_PASSWORD)");
  const cacert = values.get("--cacert");
  const parsed: ConnectArgs = { host, port, tls: tls || cacert !== undefined, protocol: resp2 ? "resp2" : "resp3", command };
  if (cacert !== undefined) parsed.cacert = cacert;
  if (user !== undefined) parsed.user = user;
  if (password !== undefined) parsed.password = password;
  return parsed;
}
