/**
 * Redis compatibility commands: just enough of Redis's connection and server commands for
 * redis-cli, redis-benchmark, ioredis and node-redis to connect, log in, switch to RESP3 and
 * read their hints without a warning. Mounted with the protocol built-ins, so every
 * application has them; an application command of the same name replaces one.
 *
 * | command | reply |
 * |---|---|
 * | `HELLO [protover [AUTH user pass] [SETNAME name]]` | map: server, version, proto, id, mode, role, modules |
 * | `AUTH [user] password` | `+OK`, `-WRONGPASS …` |
 * | `CLIENT SETNAME/GETNAME/ID/SETINFO/INFO/LIST/HELP` | as Redis, for this connection only |
 * | `SELECT index` | `+OK` for 0, else `-ERR DB index is out of range` |
 * | `COMMAND [COUNT/DOCS/INFO/LIST/HELP]` | command tables built from the application's commands |
 * | `CONFIG GET pattern …` | `save`, `appendonly`, `databases`; `CONFIG SET` is refused |
 * | `INFO [section …]` | Redis INFO text with the server's counters, `loading:0` included |
 */
import { readFileSync } from "node:fs";
import { arch, release, type } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CommandDefinition } from "./application.js";
import type { ParameterSpec } from "./command-spec.js";
import { command, parameter } from "./decorators.js";
import { CommandError } from "./errors.js";
import { CommandHandler, type ConnectionInfo } from "./handler.js";
import { type ReplyValue, type Status, status } from "./reply.js";

/** What `INFO` reports as `redis_version`: the Redis release whose commands these mimic. */
const REDIS_VERSION = "7.0.0";

let cachedVersion: string | undefined;

/**
 * retopy's own version, from the package.json above this file: `src/` when run from
 * source, `dist/src/` when built, `node_modules/retopy/dist/src/` when installed.
 */
export function retopyVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = "0.0.0";
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let depth = 0; depth < 5; depth++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
        if (pkg.name === "retopy" && typeof pkg.version === "string") {
          cachedVersion = pkg.version;
          break;
        }
      } catch {
        // no (readable) package.json here: keep walking up
      }
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  } catch {
    // not loaded from a file: keep the placeholder
  }
  return cachedVersion;
}

// ---- small helpers -------------------------------------------------------------------------

const OK = status("OK");
const INTEGER = /^[+-]?\d+$/;
/** Redis accepts client names and library infos made of `!`..`~` only. */
const PRINTABLE = /^[!-~]*$/;

function wrongArity(name: string): CommandError {
  return new CommandError(`wrong number of arguments for '${name}' command`);
}

function unknownSubcommand(cmd: string, sub: string): CommandError {
  return new CommandError(`unknown subcommand '${sub.slice(0, 128)}'. Try ${cmd} HELP.`);
}

function protoNumber(connection: ConnectionInfo): 2 | 3 {
  return connection.protocol === "resp3" ? 3 : 2;
}

/** `id=… addr=… name=… user=… proto=…`, the line CLIENT INFO and CLIENT LIST print. */
function clientLine(connection: ConnectionInfo): string {
  const info = libraryInfo.get(connection);
  const host = connection.remoteAddress ?? "";
  const addr = `${host.includes(":") ? `[${host}]` : host}:${connection.remotePort ?? 0}`;
  return [
    `id=${connection.clientId}`,
    `addr=${addr}`,
    `name=${connection.clientName ?? ""}`,
    `user=${connection.user ?? ""}`,
    `proto=${connection.protocol}`,
    `resp=${connection.protocol === "text" ? 0 : protoNumber(connection)}`,
    `lib-name=${info?.name ?? ""}`,
    `lib-ver=${info?.version ?? ""}`,
  ].join(" ");
}

/** What CLIENT SETINFO recorded, per connection (the connection is not ours to extend). */
const libraryInfo = new WeakMap<ConnectionInfo, { name?: string; version?: string }>();

/** Redis's glob patterns (`*`, `?`, `[...]`), as CONFIG GET matches them. */
function globToRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") source += ".*";
    else if (c === "?") source += ".";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end === -1) source += "\\[";
      else {
        // `[^...]` negates in both languages; a backslash stays a literal character.
        source += `[${pattern.slice(i + 1, end).replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else if (c === "\\" && i + 1 < pattern.length) {
      source += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    } else source += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  try {
    return new RegExp(`^${source}$`, "i");
  } catch {
    return /(?!)/; // a malformed class matches nothing
  }
}

/** The settings CONFIG GET knows: what redis-benchmark and admin tools ask for. */
const CONFIG_VALUES: ReadonlyMap<string, string> = new Map([
  ["save", ""],
  ["appendonly", "no"],
  ["databases", "1"],
]);

// ---- COMMAND tables ------------------------------------------------------------------------

/** One argument of COMMAND DOCS, as Redis 7 describes arguments. */
interface DocArgument {
  readonly name: string;
  readonly type: "string" | "integer" | "double" | "key" | "pattern" | "unix-time" | "pure-token" | "oneof" | "block";
  readonly token?: string;
  readonly flags?: readonly ("optional" | "multiple" | "multiple_token")[];
  readonly arguments?: readonly DocArgument[];
}

interface DocEntry {
  readonly summary: string;
  readonly group?: string;
  readonly arguments?: readonly DocArgument[];
  readonly subcommands?: Readonly<Record<string, DocEntry>>;
}

const OPTIONAL = ["optional"] as const;
const MULTIPLE = ["multiple"] as const;
const OPTIONAL_MULTIPLE = ["optional", "multiple"] as const;

/**
 * Redis-shaped docs of the compatibility commands, so redis-cli's hints read like Redis's
 * (`HELLO [protover [AUTH username password] [SETNAME clientname]]`) instead of the generic
 * `subcommand [args ...]` derived from their parameters.
 */
const COMPAT_DOCS: Readonly<Record<string, DocEntry>> = {
  hello: {
    summary: "Handshakes with the server: picks RESP2 or RESP3, optionally logs in and names the connection.",
    group: "connection",
    arguments: [
      {
        name: "arguments",
        type: "block",
        flags: OPTIONAL,
        arguments: [
          { name: "protover", type: "integer" },
          {
            name: "username-password",
            type: "block",
            token: "AUTH",
            flags: OPTIONAL,
            arguments: [
              { name: "username", type: "string" },
              { name: "password", type: "string" },
            ],
          },
          { name: "clientname", type: "string", token: "SETNAME", flags: OPTIONAL },
        ],
      },
    ],
  },
  auth: {
    summary: "Logs the connection in with the application's credential check.",
    group: "connection",
    arguments: [
      { name: "username", type: "string", flags: OPTIONAL },
      { name: "password", type: "string" },
    ],
  },
  select: {
    summary: "Selects a database; only database 0 exists.",
    group: "connection",
    arguments: [{ name: "index", type: "integer" }],
  },
  client: {
    summary: "A container for client connection commands.",
    group: "connection",
    subcommands: {
      "client|setname": {
        summary: "Sets the connection name.",
        arguments: [{ name: "connection-name", type: "string" }],
      },
      "client|getname": { summary: "Returns the name of the connection." },
      "client|id": { summary: "Returns the unique client ID of the connection." },
      "client|setinfo": {
        summary: "Sets information specific to the client or connection.",
        arguments: [
          {
            name: "attr",
            type: "oneof",
            arguments: [
              { name: "libname", type: "string", token: "LIB-NAME" },
              { name: "libver", type: "string", token: "LIB-VER" },
            ],
          },
        ],
      },
      "client|info": { summary: "Returns information about the connection." },
      "client|list": { summary: "Lists the connection (only this one)." },
      "client|help": { summary: "Returns helpful text about the different subcommands." },
    },
  },
  command: {
    summary: "Returns detailed information about all commands.",
    group: "server",
    subcommands: {
      "command|count": { summary: "Returns a count of commands." },
      "command|docs": {
        summary: "Returns documentary information about one, multiple or all commands.",
        arguments: [{ name: "command-name", type: "string", flags: OPTIONAL_MULTIPLE }],
      },
      "command|info": {
        summary: "Returns information about one, multiple or all commands.",
        arguments: [{ name: "command-name", type: "string", flags: OPTIONAL_MULTIPLE }],
      },
      "command|list": { summary: "Returns a list of command names." },
      "command|help": { summary: "Returns helpful text about the different subcommands." },
    },
  },
  config: {
    summary: "A container for server configuration commands.",
    group: "server",
    subcommands: {
      "config|get": {
        summary: "Returns the effective values of configuration parameters.",
        arguments: [{ name: "parameter", type: "string", flags: MULTIPLE }],
      },
      "config|help": { summary: "Returns helpful text about the different subcommands." },
    },
  },
  info: {
    summary: "Returns information and statistics about the server.",
    group: "server",
    arguments: [{ name: "section", type: "string", flags: OPTIONAL_MULTIPLE }],
  },
};

function argumentType(param: ParameterSpec): DocArgument["type"] {
  if (param.type === "int") return "integer";
  if (param.type === "float") return "double";
  return "string";
}

/** COMMAND DOCS arguments derived from a command's parameters. */
function paramDocs(params: readonly ParameterSpec[]): DocArgument[] {
  return params.map((p) => {
    const flags: ("optional" | "multiple")[] = [];
    if (p.optional) flags.push("optional");
    if (p.variadic) flags.push("multiple");
    return { name: p.name, type: argumentType(p), ...(flags.length > 0 ? { flags } : {}) };
  });
}

function isCompat(definition: CommandDefinition): boolean {
  return definition.builtin && definition.handlerClass === RedisCompat;
}

function docEntryOf(definition: CommandDefinition): DocEntry {
  const compat = isCompat(definition) ? COMPAT_DOCS[definition.name] : undefined;
  if (compat) return compat;
  const args = paramDocs(definition.params);
  return {
    summary: definition.help.trim().replace(/\s*\r?\n\s*/g, " "),
    group: "generic",
    ...(args.length > 0 ? { arguments: args } : {}),
  };
}

/** Arguments, flags as statuses: redis-cli asserts that flags are simple strings. */
function argumentReply(arg: DocArgument): Map<string, ReplyValue> {
  const reply = new Map<string, ReplyValue>([
    ["name", arg.name],
    ["type", arg.type],
  ]);
  if (arg.token !== undefined) reply.set("token", arg.token);
  if (arg.flags && arg.flags.length > 0) reply.set("flags", arg.flags.map((f) => status(f)));
  if (arg.arguments) reply.set("arguments", arg.arguments.map(argumentReply));
  return reply;
}

function docsReply(entry: DocEntry, group: string): Map<string, ReplyValue> {
  const reply = new Map<string, ReplyValue>([
    ["summary", entry.summary],
    ["since", "1.0.0"],
    ["group", entry.group ?? group],
  ]);
  if (entry.arguments && entry.arguments.length > 0) reply.set("arguments", entry.arguments.map(argumentReply));
  if (entry.subcommands) {
    const subs = new Map<string, ReplyValue>();
    for (const [name, sub] of Object.entries(entry.subcommands)) subs.set(name, docsReply(sub, entry.group ?? group));
    reply.set("subcommands", subs);
  }
  return reply;
}

/**
 * Redis arity: positive is the exact word count including the command name, negative the
 * minimum. Optional and variadic parameters make it a minimum.
 */
export function arityOf(params: readonly ParameterSpec[]): number {
  const required = params.filter((p) => !p.optional).length;
  const open = params.some((p) => p.optional || p.variadic);
  return open ? -(1 + required) : 1 + required;
}

/** One COMMAND / COMMAND INFO entry, in Redis 7's ten-field shape. */
function commandInfoReply(definition: CommandDefinition): ReplyValue[] {
  return [
    definition.name,
    arityOf(definition.params),
    [], // flags
    0, // first key
    0, // last key
    0, // step
    [], // ACL categories
    [], // tips
    [], // key specifications
    [], // subcommands
  ];
}

// ---- the commands ----------------------------------------------------------------------------

/** Redis's connection and server commands, for Redis clients and tools. */
export class RedisCompat extends CommandHandler {
  @parameter({ name: "protover", help: "2 or 3: the RESP version for the replies that follow", default: null })
  @parameter({ name: "options", help: "AUTH username password, SETNAME clientname", variadic: true, default: [] })
  @command({ autoHandshake: false, help: "Switches to RESP2/RESP3, logs in, names the connection: HELLO [protover [AUTH username password] [SETNAME clientname]]." })
  async hello(): Promise<Map<string, ReplyValue>> {
    const protover = this.getArgument<string | null>("protover");
    const options = this.getArguments("options");
    let version: 2 | 3 | null = null;
    if (protover !== null) {
      const n = INTEGER.test(protover) ? Number(protover) : NaN;
      if (!Number.isSafeInteger(n)) throw new CommandError("Protocol version is not an integer or out of range");
      if (n !== 2 && n !== 3) throw new CommandError("sorry, this protocol version is not supported", "NOPROTO");
      version = n;
    }
    let credentials: [string, string] | null = null;
    let name: string | null = null;
    for (let i = 0; i < options.length; i++) {
      const option = options[i]!;
      const left = options.length - 1 - i;
      if (option.toLowerCase() === "auth" && left >= 2) {
        credentials = [options[i + 1]!, options[i + 2]!];
        i += 2;
      } else if (option.toLowerCase() === "setname" && left >= 1) {
        name = options[i + 1]!;
        i += 1;
      } else {
        throw new CommandError(`Syntax error in HELLO option '${option.slice(0, 128)}'`);
      }
    }
    // Check everything before changing anything: a refused HELLO leaves the connection as it was.
    if (name !== null) checkClientName(name);
    if (credentials) await logIn(this, credentials[0], credentials[1]);
    if (name !== null) this.connection.clientName = name === "" ? null : name;
    if (version !== null) this.connection.setProtocol(version === 3 ? "resp3" : "resp2");
    return new Map<string, ReplyValue>([
      ["server", "retopy"],
      ["version", retopyVersion()],
      ["proto", version ?? protoNumber(this.connection)],
      ["id", this.connection.clientId],
      ["mode", "standalone"],
      ["role", "master"],
      ["modules", []],
    ]);
  }

  @parameter({ name: "credentials", help: "[username] password", variadic: true })
  @command({ autoHandshake: false, help: "Logs the connection in with the application's credential check: AUTH [username] password." })
  async auth(): Promise<Status> {
    const args = this.getArguments("credentials");
    // Arity is checked here rather than by the parameter list, whose error would quote an argument.
    if (args.length > 2) throw new CommandError("syntax error");
    const [first, second] = args;
    if (second === undefined) await logIn(this, undefined, first ?? "");
    else await logIn(this, first, second);
    return OK;
  }

  @parameter({ name: "subcommand", help: "SETNAME, GETNAME, ID, SETINFO, INFO, LIST or HELP" })
  @parameter({ name: "args", help: "the subcommand's arguments", variadic: true, default: [] })
  @command({ autoHandshake: false, help: "This connection's name, id and details: CLIENT SETNAME|GETNAME|ID|SETINFO|INFO|LIST|HELP." })
  client(): ReplyValue {
    const sub = this.getArgument("subcommand");
    const args = this.getArguments("args");
    const connection = this.connection;
    const end = connection.protocol === "text" ? "" : "\n";
    switch (sub.toLowerCase()) {
      case "setname": {
        if (args.length !== 1) throw wrongArity("client|setname");
        const name = args[0]!;
        checkClientName(name);
        connection.clientName = name === "" ? null : name;
        return OK;
      }
      case "getname":
        if (args.length !== 0) throw wrongArity("client|getname");
        return connection.clientName;
      case "id":
        if (args.length !== 0) throw wrongArity("client|id");
        return connection.clientId;
      case "setinfo": {
        if (args.length !== 2) throw wrongArity("client|setinfo");
        const [attr, value] = args as [string, string];
        const key = attr.toLowerCase();
        if (key !== "lib-name" && key !== "lib-ver") throw new CommandError(`Unrecognized option '${attr.slice(0, 128)}'`);
        if (!PRINTABLE.test(value)) throw new CommandError(`${key} cannot contain spaces, newlines or special characters.`);
        const info = libraryInfo.get(connection) ?? {};
        if (key === "lib-name") info.name = value;
        else info.version = value;
        libraryInfo.set(connection, info);
        return OK;
      }
      case "info":
        if (args.length !== 0) throw wrongArity("client|info");
        return clientLine(connection) + end;
      case "list":
        // Lite: a handler sees only its own connection, so the list has one line.
        return clientLine(connection) + end;
      case "help":
        return [
          "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
          "GETNAME",
          "    Return the name of the current connection.",
          "ID",
          "    Return the ID of the current connection.",
          "INFO",
          "    Return information about the current client connection.",
          "LIST",
          "    Return information about the current client connection (retopy lists no others).",
          "SETNAME <name>",
          "    Assign the name <name> to the current connection.",
          "SETINFO <option> <value>",
          "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
          "HELP",
          "    Print this help.",
        ];
      default:
        throw unknownSubcommand("CLIENT", sub);
    }
  }

  @parameter({ name: "index", help: "the database number; only 0 exists" })
  @command({ autoHandshake: false, help: "Selects a database; only database 0 exists: SELECT index." })
  select(): Status {
    const index = this.getArgument("index");
    if (!INTEGER.test(index) || !Number.isSafeInteger(Number(index))) {
      throw new CommandError("value is not an integer or out of range");
    }
    if (Number(index) !== 0) throw new CommandError("DB index is out of range");
    return OK;
  }

  @parameter({ name: "subcommand", help: "COUNT, DOCS, INFO, LIST or HELP; none lists every command", default: null })
  @parameter({ name: "args", help: "command names", variadic: true, default: [] })
  @command({ name: "command", autoHandshake: false, help: "The command table, for Redis clients: COMMAND [COUNT|DOCS|INFO|LIST|HELP] [name ...]." })
  commandTable(): ReplyValue {
    const sub = this.getArgument<string | null>("subcommand");
    const names = this.getArguments("args");
    const all = this.application.commands;
    if (sub === null) return all.map(commandInfoReply);
    const pick = (): (CommandDefinition | undefined)[] =>
      names.length === 0 ? [...all] : names.map((n) => this.application.lookup(n));
    switch (sub.toLowerCase()) {
      case "count":
        if (names.length !== 0) throw wrongArity("command|count");
        return all.length;
      case "list":
        return all.map((d) => d.name);
      case "info":
        return pick().map((d) => (d ? commandInfoReply(d) : null));
      case "docs": {
        const reply = new Map<string, ReplyValue>();
        for (const definition of pick()) {
          if (definition) reply.set(definition.name, docsReply(docEntryOf(definition), "generic"));
        }
        return reply;
      }
      case "help":
        return [
          "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
          "(no subcommand)",
          "    Return details about all commands.",
          "COUNT",
          "    Return the total number of commands.",
          "DOCS [<command-name> ...]",
          "    Return documentation details about multiple commands, or all commands without names.",
          "INFO [<command-name> ...]",
          "    Return details about multiple commands, or all commands without names.",
          "LIST",
          "    Return a list of all command names.",
          "HELP",
          "    Print this help.",
        ];
      default:
        throw unknownSubcommand("COMMAND", sub);
    }
  }

  @parameter({ name: "subcommand", help: "GET or HELP (SET is not supported)" })
  @parameter({ name: "args", help: "parameter names or glob patterns", variadic: true, default: [] })
  @command({ autoHandshake: false, help: "Reads the settings redis-benchmark and tools ask for: CONFIG GET parameter [parameter ...]." })
  config(): ReplyValue {
    const sub = this.getArgument("subcommand");
    const args = this.getArguments("args");
    switch (sub.toLowerCase()) {
      case "get": {
        if (args.length === 0) throw wrongArity("config|get");
        const reply = new Map<string, ReplyValue>();
        for (const pattern of args) {
          const known = CONFIG_VALUES.get(pattern.toLowerCase());
          if (known !== undefined) {
            reply.set(pattern.toLowerCase(), known);
            continue;
          }
          const re = globToRegExp(pattern);
          for (const [key, value] of CONFIG_VALUES) if (re.test(key)) reply.set(key, value);
        }
        return reply;
      }
      case "set":
      case "resetstat":
      case "rewrite":
        throw new CommandError(`CONFIG ${sub.toUpperCase()} is not supported by retopy`);
      case "help":
        return [
          "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
          "GET <pattern>",
          "    Return parameters matching the glob-like <pattern> and their values.",
          "HELP",
          "    Print this help.",
        ];
      default:
        throw unknownSubcommand("CONFIG", sub);
    }
  }

  @parameter({ name: "section", help: "server, clients, memory, persistence, stats, replication, keyspace, commandstats, all", variadic: true, default: [] })
  @command({ autoHandshake: false, help: "Server facts and counters in Redis's INFO format: INFO [section ...]." })
  info(): string {
    const stats = this.server.stats();
    const wanted = new Set(this.getArguments("section").map((s) => s.toLowerCase()));
    const everything = wanted.has("all") || wanted.has("everything");
    const byDefault = wanted.size === 0 || wanted.has("default") || everything;
    const sections: [string, boolean, () => string[]][] = [
      [
        "Server",
        true,
        () => [
          `redis_version:${REDIS_VERSION}`,
          `retopy_version:${retopyVersion()}`,
          "redis_mode:standalone",
          `os:${type()} ${release()} ${arch()}`,
          `arch_bits:${/64/.test(arch()) ? 64 : 32}`,
          `node_version:${process.versions.node}`,
          `process_id:${process.pid}`,
          `uptime_in_seconds:${stats.uptimeSeconds}`,
          `uptime_in_days:${Math.floor(stats.uptimeSeconds / 86400)}`,
        ],
      ],
      ["Clients", true, () => [`connected_clients:${stats.connectionsCurrent}`]],
      [
        "Memory",
        true,
        () => {
          const memory = process.memoryUsage();
          return [`used_memory:${memory.heapUsed}`, `used_memory_rss:${memory.rss}`];
        },
      ],
      ["Persistence", true, () => ["loading:0"]],
      [
        "Stats",
        true,
        () => [
          `total_connections_received:${stats.connectionsTotal}`,
          `total_commands_processed:${stats.commandsTotal}`,
          `total_error_replies:${stats.errorsTotal}`,
        ],
      ],
      ["Replication", true, () => ["role:master", "connected_slaves:0"]],
      [
        "Commandstats",
        false,
        () => Object.entries(stats.commandCounts).map(([name, calls]) => `cmdstat_${name}:calls=${calls}`),
      ],
      ["Keyspace", true, () => []],
    ];
    const blocks: string[] = [];
    for (const [title, inDefault, lines] of sections) {
      if (!(wanted.has(title.toLowerCase()) || (inDefault ? byDefault : everything))) continue;
      blocks.push([`# ${title}`, ...lines()].map((line) => `${line}\r\n`).join(""));
    }
    const text = blocks.join("\r\n");
    // A telnet user gets the lines without the trailing blank one.
    return this.connection.protocol === "text" ? text.replace(/\r\n$/, "") : text;
  }
}

/** Redis's rule for client names: printable, no spaces; the empty name clears it. */
function checkClientName(name: string): void {
  if (!PRINTABLE.test(name)) throw new CommandError("Client names cannot contain spaces, newlines or special characters.");
}

/**
 * AUTH and HELLO ... AUTH: asks the application's `authenticate` setting, then logs the
 * connection in as the user it names. The password is never logged or echoed.
 */
async function logIn(handler: CommandHandler, user: string | undefined, password: string): Promise<void> {
  const authenticate = handler.application.settings.authenticate;
  if (!authenticate) {
    throw new CommandError(
      "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
    );
  }
  const result = await authenticate(user ?? "default", password, handler.connection);
  if (!result) throw new CommandError("invalid username-password pair or user is disabled.", "WRONGPASS");
  handler.connection.user = typeof result === "string" ? result : (user ?? "default");
}
