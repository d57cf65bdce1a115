import { CommandHandler, contextOf } from "./handler.js";
import { MissingArgumentError } from "./errors.js";
import { WireErrors } from "./protocol/wire-errors.js";

/**
 * A handler whose arguments are typed from its command's declaration: `args.count` is a
 * number when `count` was declared `type: "int"`, and `args.cuont` does not compile.
 * `app.command(...)` functions and `Command(...)` classes get one.
 *
 * Both read the values array retopy already bound for the command: `arg(name)` allocates
 * nothing; `args` builds its object once, on first use.
 */
export class TypedHandler<Args extends object = Record<string, unknown>> extends CommandHandler {
  #args: Args | undefined = undefined;

  /** The converted arguments by name, as declared (built on first use, then kept). */
  get args(): Args {
    if (this.#args) return this.#args;
    const { definition, values } = contextOf(this);
    const params = definition.params;
    // A plain object filled in declaration order: every command of a definition gets the same
    // hidden class (an `Object.create(null)` object would be a slower dictionary).
    const args: Record<string, unknown> = {};
    for (let i = 0; i < params.length; i++) {
      const name = params[i]!.name;
      // `args.__proto__ = value` would set the prototype: define it as an own key instead.
      if (name === "__proto__") Object.defineProperty(args, name, { value: values[i], enumerable: true, writable: true, configurable: true });
      else args[name] = values[i];
    }
    this.#args = args as Args;
    return this.#args;
  }

  /** One converted argument by name, without building `args`. */
  arg<K extends keyof Args & string>(name: K): Args[K] {
    const { definition, values } = contextOf(this);
    const params = definition.params;
    for (let i = 0; i < params.length; i++) if (params[i]!.name === name) return values[i] as Args[K];
    // Only untyped callers (plain JavaScript) get here: the compiler refuses undeclared names.
    throw new MissingArgumentError(name, WireErrors.undeclaredArgument(name).message);
  }
}
