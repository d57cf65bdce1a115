/**
 * The server's own command table, read once at start: names for tab completion (COMMAND
 * LIST, always mounted) and usage lines for hints (the `commands` built-in, when mounted:
 * `set key value`).
 */
import type { RetopyClient } from "../client/index.js";

/** Words the shell itself understands. */
const SHELL_WORDS = ["help", "quit", "exit"];

export class CommandTable {
  /** Lower-case command name -> its parameters as the server spells them (`key [key ...]`). */
  private readonly usages = new Map<string, string>();
  readonly names: string[];

  constructor(names: Iterable<string>, usages: Iterable<string>) {
    for (const usage of usages) {
      const [name = "", ...params] = usage.trim().split(/\s+/);
      if (name !== "") this.usages.set(name.toLowerCase(), params.join(" "));
    }
    const all = new Set([...names].map((n) => n.toLowerCase()));
    for (const name of [...this.usages.keys(), ...SHELL_WORDS]) all.add(name);
    this.names = [...all].sort();
  }

  /** Reads the table; a server without `commands` (or without COMMAND) just gives fewer hints. */
  static async load(client: RetopyClient): Promise<CommandTable> {
    const [list, usages] = await Promise.all([
      client.call("COMMAND", "LIST").catch(() => []),
      client.call("commands").catch(() => []),
    ]);
    const strings = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);
    return new CommandTable(strings(list), strings(usages));
  }

  /** readline's completer: command names (with a trailing space) for the first word only. */
  complete(line: string): [string[], string] {
    if (!/^\s*\S*$/.test(line)) return [[], line];
    const word = line.trimStart().toLowerCase();
    const hits = this.names.filter((name) => name.startsWith(word)).map((name) => `${name} `);
    return [hits, line.trimStart()];
  }

  /**
   * The parameters still to type after `line`, once it ends with a space after the
   * command word: `set ` -> `key value`, `set k ` -> `value`; "" when there is nothing to say.
   */
  hint(line: string): string {
    if (!/\s$/.test(line)) return "";
    const words = line.trim().split(/\s+/);
    const params = this.usages.get((words[0] ?? "").toLowerCase());
    if (!params) return "";
    // Bracketed groups (`[key ...]`) are one hint token each.
    const tokens = params.match(/\[[^\]]*\]|\S+/g) ?? [];
    return tokens.slice(words.length - 1).join(" ");
  }
}
