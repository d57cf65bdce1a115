/**
 * Command proxies: `client.commands.increment("a")` for `client.call("increment", "a")`, built
 * from the server's `COMMAND DOCS`, so only the server's commands are there and a typo is
 * `undefined` rather than an "unknown command" error at run time.
 */
import type { Argument } from "../protocol/encode-request.js";
import type { Reply } from "./reply.js";

/** The default shape: any name the server has, as a function that calls it. Type your own `T` to narrow it. */
export type CommandFunctions = Record<string, (...args: Argument[]) => Promise<Reply>>;

/** The commands object of `client.describe()`: one function per server command; `Object.keys` lists them. */
export type CommandProxy<T = CommandFunctions> = Readonly<T>;

/** The command names in a COMMAND DOCS reply: a RESP3 Map, or RESP2's flat `[name, docs, ...]` array. */
export function commandNamesOf(docs: Reply): string[] {
  if (docs instanceof Map) return [...docs.keys()].map(String);
  if (Array.isArray(docs)) return docs.filter((_, i) => i % 2 === 0).map(String);
  return [];
}

/**
 * A frozen object with one calling function per name. `then` is left out: a commands object
 * with `then` would be taken for a promise by `await`.
 */
export function commandProxy<T = CommandFunctions>(names: readonly string[], call: (command: string, ...args: Argument[]) => Promise<Reply>): CommandProxy<T> {
  const commands: Record<string, (...args: Argument[]) => Promise<Reply>> = Object.create(null);
  for (const name of names) {
    if (name === "then" || name.includes("|")) continue;
    commands[name] = (...args: Argument[]) => call(name, ...args);
  }
  return Object.freeze(commands) as CommandProxy<T>;
}
