/**
 * The replies of COMMAND, COMMAND INFO and COMMAND DOCS: Redis 7's command tables, built
 * from the application's command definitions. The compatibility commands carry hand-written
 * docs so redis-cli's hints read like Redis's.
 */
import type { CommandDefinition } from "../handler.js";
import type { ParameterSpec } from "../command-spec.js";
import type { HandlerClass } from "../handler.js";
import { type ReplyValue, status } from "../reply.js";

/** One argument of COMMAND DOCS, as Redis 7 describes arguments. */
export interface DocArgument {
  readonly name: string;
  readonly type: "string" | "integer" | "double" | "key" | "pattern" | "unix-time" | "pure-token" | "oneof" | "block";
  readonly token?: string;
  readonly flags?: readonly ("optional" | "multiple" | "multiple_token")[];
  readonly arguments?: readonly DocArgument[];
}

/** One command's COMMAND DOCS entry; subcommands are keyed `command|sub`, as Redis keys them. */
export interface DocEntry {
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
  ping: {
    summary: "Returns the server's liveliness response.",
    group: "connection",
    arguments: [{ name: "message", type: "string", flags: OPTIONAL }],
  },
  echo: {
    summary: "Returns the given string.",
    group: "connection",
    arguments: [{ name: "message", type: "string" }],
  },
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

/**
 * `compatClasses` are the handlers whose commands use COMPAT_DOCS; it is passed in rather than
 * imported so this module does not import the handler that imports it.
 */
function isCompat(definition: CommandDefinition, compatClasses: readonly HandlerClass[]): boolean {
  return definition.builtin && compatClasses.includes(definition.handlerClass);
}

export function docEntryOf(definition: CommandDefinition, compatClasses: readonly HandlerClass[]): DocEntry {
  const compat = isCompat(definition, compatClasses) ? COMPAT_DOCS[definition.name] : undefined;
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

export function docsReply(entry: DocEntry, group: string): Map<string, ReplyValue> {
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
export function commandInfoReply(definition: CommandDefinition): ReplyValue[] {
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
