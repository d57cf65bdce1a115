/**
 * Redis compatibility commands: just enough of Redis's connection and server commands for
 * redis-cli, redis-benchmark, ioredis and node-redis to connect, log in, switch to RESP3 and
 * read their hints without a warning. Mounted (with PING and ECHO, src/compat/ping-echo.ts)
 * as the application's `redisCommands` setting says; an application command of the same
 * name replaces one.
 *
 * | command | reply |
 * |---|---|
 * | `HELLO [protover [AUTH user pass] [SETNAME name]]` | map: server, version, proto, id, mode, role, modules |
 * | `AUTH [user] password` | `+OK`, `-WRONGPASS …` |
 * | `CLIENT SETNAME/GETNAME/ID/SETINFO/INFO/LIST/HELP` | as Redis, for this connection only |
 * | `SELECT index` | `+OK` for 0, else `-ERR DB index is out of range` |
 * | `COMMAND [COUNT/DOCS/INFO/LIST/HELP]` | command tables built from the application's commands |
 * | `CONFIG GET pattern …` / `CONFIG RESETSTAT` | `save`, `appendonly`, `databases`; resets INFO commandstats and latencystats; `CONFIG SET` is refused |
 * | `INFO [section …]` | Redis INFO text with the server's counters, `loading:0` included |
 */
import type { CommandDefinition } from "../handler.js";
import { performLogin } from "../auth.js";
import { command, parameter } from "../decorators.js";
import { CommandError, refuse } from "../errors.js";
import { CommandHandler, type HandlerClass } from "../handler.js";
import { RedisPingEcho } from "./ping-echo.js";
import { type ReplyValue, type Status, status, type Verbatim, verbatim } from "../reply.js";
import { retopyVersion } from "../version.js";
import { checkClientName, clientLine, libraryInfo, PRINTABLE, protoNumber } from "./client-info.js";
import { commandInfoReply, docEntryOf, docsReply } from "./command-table.js";
import { configGet, infoText } from "./server-info.js";
import { asciiLowerCase } from "../client-text.js";
import { WireErrors } from "../protocol/wire-errors.js";
import { PROTOCOLS } from "../protocol/protocols.js";

const OK = status("OK");
const INTEGER = /^[+-]?\d+$/;

function wrongArity(name: string): CommandError {
  return refuse(WireErrors.wrongArity(name));
}

function unknownSubcommand(cmd: string, sub: string): CommandError {
  return refuse(WireErrors.unknownSubcommand(sub, cmd));
}

/** Redis's connection and server commands, for Redis clients and tools. */
export class RedisCompat extends CommandHandler {
  @parameter({ name: "protover", help: "2 or 3: the RESP version for the replies that follow", default: null })
  @parameter({ name: "options", help: "AUTH username password, SETNAME clientname", variadic: true, default: [] })
  @command({ autoHandshake: false, login: true, help: "Switches to RESP2/RESP3, logs in, names the connection: HELLO [protover [AUTH username password] [SETNAME clientname]]." })
  async hello(): Promise<Map<string, ReplyValue>> {
    const protover = this.getArgument<string | null>("protover");
    const options = this.getArguments("options");
    let version: 2 | 3 | null = null;
    if (protover !== null) {
      const n = INTEGER.test(protover) ? Number(protover) : NaN;
      if (!Number.isSafeInteger(n)) throw refuse(WireErrors.protoNotInteger);
      if (n !== 2 && n !== 3) throw refuse(WireErrors.noProto);
      version = n;
    }
    let credentials: [string, string] | null = null;
    let name: string | null = null;
    for (let i = 0; i < options.length; i++) {
      const option = options[i]!;
      const left = options.length - 1 - i;
      if (asciiLowerCase(option) === "auth" && left >= 2) {
        credentials = [options[i + 1]!, options[i + 2]!];
        i += 2;
      } else if (asciiLowerCase(option) === "setname" && left >= 1) {
        name = options[i + 1]!;
        i += 1;
      } else {
        throw refuse(WireErrors.helloOption(option));
      }
    }
    // Check everything before changing anything: a refused HELLO leaves the connection as it was.
    if (credentials === null && this.application.settings.requireLogin && this.connection.user === null) {
      // Redis's words under requirepass: HELLO is on the login path only with its AUTH.
      throw refuse(WireErrors.helloNeedsAuth);
    }
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
  @command({ autoHandshake: false, login: true, help: "Logs the connection in with the application's credential check: AUTH [username] password." })
  async auth(): Promise<Status> {
    const args = this.getArguments("credentials");
    // Arity is checked here rather than by the parameter list, whose error would quote an argument.
    if (args.length > 2) throw refuse(WireErrors.syntax);
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
    const end = PROTOCOLS[connection.protocol].forPeople ? "" : "\n";
    switch (asciiLowerCase(sub)) {
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
        const key = asciiLowerCase(attr);
        if (key !== "lib-name" && key !== "lib-ver") throw refuse(WireErrors.clientInfoOption(attr));
        if (!PRINTABLE.test(value)) throw refuse(WireErrors.clientInfoInvalid(key));
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
      throw refuse(WireErrors.notAnInteger);
    }
    if (Number(index) !== 0) throw refuse(WireErrors.dbIndexOutOfRange);
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
    switch (asciiLowerCase(sub)) {
      case "count":
        if (names.length !== 0) throw wrongArity("command|count");
        return all.length;
      case "list":
        return all.map((d) => d.name);
      case "info":
        return pick().map((d) => (d ? commandInfoReply(d) : null));
      case "docs": {
        const reply = new Map<string, ReplyValue>();
        const compat: readonly HandlerClass[] = [RedisCompat, RedisPingEcho];
        for (const definition of pick()) {
          if (definition) reply.set(definition.name, docsReply(docEntryOf(definition, compat), "generic"));
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

  @parameter({ name: "subcommand", help: "GET, RESETSTAT or HELP (SET is not supported)" })
  @parameter({ name: "args", help: "parameter names or glob patterns", variadic: true, default: [] })
  @command({ autoHandshake: false, help: "Reads the settings redis-benchmark and tools ask for: CONFIG GET parameter [parameter ...]." })
  config(): ReplyValue {
    const sub = this.getArgument("subcommand");
    const args = this.getArguments("args");
    switch (asciiLowerCase(sub)) {
      case "get":
        if (args.length === 0) throw wrongArity("config|get");
        return configGet(args);
      case "resetstat":
        if (args.length !== 0) throw wrongArity("config|resetstat");
        if (this.server.cluster) this.server.cluster.resetStats();
        else this.server.resetStats();
        return OK;
      case "set":
      case "rewrite":
        throw refuse(WireErrors.configUnsupported(sub));
      case "help":
        return [
          "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
          "GET <pattern>",
          "    Return parameters matching the glob-like <pattern> and their values.",
          "RESETSTAT",
          "    Reset statistics reported by the INFO command (commandstats and latencystats).",
          "HELP",
          "    Print this help.",
        ];
      default:
        throw unknownSubcommand("CONFIG", sub);
    }
  }

  @parameter({ name: "section", help: "server, clients, memory, persistence, stats, replication, keyspace, commandstats, latencystats, workers (under --workers), all", variadic: true, default: [] })
  @command({ autoHandshake: false, help: "Server facts and counters in Redis's INFO format: INFO [section ...]." })
  info(): string | Verbatim | Promise<string | Verbatim> {
    // What the process is (os, Node version, pid, memory) helps an attacker more than a client.
    const details = this.application.settings.processInfo === "everyone" || this.connection.user !== null;
    const sections = this.getArguments("section");
    // A telnet user gets the lines (text mode keeps a Verbatim's line breaks, and only its),
    // without the trailing blank one.
    const forPeople = PROTOCOLS[this.connection.protocol].forPeople;
    const reply = (text: string) => (forPeople ? verbatim(text.replace(/\r\n$/, "")) : text);
    const cluster = this.server.cluster;
    if (!cluster) return reply(infoText(this.server.stats(), this.server.commandStats(), sections, details));
    return cluster.collect().then((whole) => reply(infoText(whole.totals, whole.commands, sections, details, whole)));
  }
}

/**
 * AUTH and HELLO ... AUTH: the guarded login path (`src/auth.ts`) asks the application's
 * `authenticate` setting and logs the connection in as the user it names; a refusal has
 * already waited `authFailureDelay` when it is thrown. The password is never logged or echoed.
 */
async function logIn(handler: CommandHandler, user: string | undefined, password: string): Promise<void> {
  const outcome = await performLogin(handler.application.settings, handler.connection, user ?? "default", password);
  if (outcome.ok) return;
  if (outcome.reason === "unconfigured") {
    throw refuse(WireErrors.authUnconfigured);
  }
  throw refuse(WireErrors.wrongPass);
}
