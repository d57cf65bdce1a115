import type { HandlerContext } from "./handler.js";
import type { ArgumentsOf, ParameterDeclaration, TypedCommandSpec } from "./typed-args.js";
import { TypedHandler } from "./typed-handler.js";

/**
 * One command as a class whose base is made from its declaration, so `this.args` is typed
 * from the parameters written there (the way Effect's `Schema.Class` or oclif's static
 * flags type a class from a value):
 *
 *   class Incr extends Command({ name: "incrby", params: ["key", { name: "by", type: "int" }] }) {
 *     run() { return this.args.by + 1; } // `by` is a number; `this.args.bye` does not compile
 *   }
 *   new Application([Incr]);
 *
 * Decorators cannot change a method's types, so a decorated method could only have its
 * types checked against a hand-written annotation; a declared base class infers them.
 */

/** @internal Where a `Command(...)` class keeps its declaration; `Symbol.for` so two copies of retopy agree. */
export const COMMAND_DECLARATION: unique symbol = Symbol.for("retopy.commandDeclaration") as never;

/** A `Command(...)` class's declaration: its wire name and what `app.command` accepts. */
export interface CommandDeclaration<Params extends readonly ParameterDeclaration[] = readonly ParameterDeclaration[]>
  extends TypedCommandSpec<Params> {
  /** The wire name, matched case-insensitively. */
  name: string;
}

/** The base of a `Command(...)` class: implement `run()`, the command itself. */
export abstract class DeclaredCommand<Args extends object = Record<string, unknown>> extends TypedHandler<Args> {
  /** The command: its return value (if not undefined) is written as the reply; may be async. */
  abstract run(): unknown;
}

/** What `Command(...)` returns: a base class to extend, carrying its declaration. */
export type CommandClass<Args extends object> = (abstract new (context: HandlerContext) => DeclaredCommand<Args>) & {
  readonly [COMMAND_DECLARATION]: CommandDeclaration;
};

/** Makes the base class of one typed command; see the comment at the top of this file. */
export function Command<const Params extends readonly ParameterDeclaration[] = []>(
  declaration: CommandDeclaration<Params>,
): CommandClass<ArgumentsOf<Params>> {
  abstract class Declared extends DeclaredCommand<ArgumentsOf<Params>> {
    static readonly [COMMAND_DECLARATION]: CommandDeclaration = declaration;
  }
  return Declared;
}

/** The declaration of a `Command(...)` class (inherited by its subclasses), or undefined. */
export function commandDeclarationOf(handlerClass: object): CommandDeclaration | undefined {
  const declaration = (handlerClass as { [COMMAND_DECLARATION]?: CommandDeclaration })[COMMAND_DECLARATION];
  return typeof declaration === "object" && declaration !== null ? declaration : undefined;
}
