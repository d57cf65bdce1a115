import type { CommandOptions, ParameterOptions } from "./command-spec.js";
import type { CommandHandler } from "./handler.js";

/**
 * `@parameter`, `@authenticated` and `@command` only record metadata about a method; the
 * Application reads it when a handler class is mounted.
 *
 * The metadata lives in a WeakMap keyed by the method's function rather than in
 * `Symbol.metadata`, which Node 20 lacks: the same function object sits on the class
 * prototype, so mounting finds it by walking the prototype with no shim and no instance.
 * Both standard (TC39) decorators and TypeScript's `experimentalDecorators` are accepted.
 */
export interface CommandMetadata {
  /** Positional parameters, in the order the decorators are written (top to bottom). */
  readonly params: ParameterOptions[];
  options: CommandOptions;
  authenticated: boolean;
  /** True once any retopy decorator marked the method: only marked methods are commands. */
  isCommand: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type AnyMethod = Function;

const metadata = new WeakMap<AnyMethod, CommandMetadata>();

/** The command metadata recorded on a method, if it was decorated. */
export function commandMetadataOf(method: unknown): CommandMetadata | undefined {
  return typeof method === "function" ? metadata.get(method) : undefined;
}

function metadataFor(method: AnyMethod): CommandMetadata {
  let meta = metadata.get(method);
  if (!meta) {
    meta = { params: [], options: {}, authenticated: false, isCommand: false };
    metadata.set(method, meta);
  }
  return meta;
}

/** Accepts both decorator calling conventions and returns the decorated function. */
function methodOf(args: unknown[]): AnyMethod {
  const [first, second, third] = args;
  // Standard decorators: (value, context) with context.kind === "method".
  if (typeof first === "function" && second && typeof second === "object" && "kind" in second) {
    const context = second as { kind: string; static?: boolean; private?: boolean };
    if (context.kind !== "method") throw new TypeError("retopy decorators apply to methods only");
    // Mounting reads the prototype's public methods: a static or #private one would never be a command.
    if (context.static === true || context.private === true) {
      throw new TypeError("retopy decorators apply to public instance methods only");
    }
    return first;
  }
  // experimentalDecorators: (prototype, key, descriptor); a static method's target is the class itself.
  if (typeof first === "function") throw new TypeError("retopy decorators apply to public instance methods only");
  const descriptor = third as PropertyDescriptor | undefined;
  if (descriptor && typeof descriptor.value === "function") return descriptor.value as AnyMethod;
  throw new TypeError("retopy decorators apply to methods only");
}

/**
 * A retopy decorator, typed for instance methods of a CommandHandler only, in both calling
 * conventions: on a field, a getter, a static method or a class it does not compile (and
 * still throws at run time, for plain JavaScript).
 */
export interface CommandMethodDecorator {
  /** Standard (TC39) decorators. */
  <This extends CommandHandler, Method extends (this: This, ...args: any) => unknown>(
    method: Method,
    context: ClassMethodDecoratorContext<This, Method> & { readonly static: false; readonly private: false },
  ): void;
  /** TypeScript's `experimentalDecorators`: the target is the prototype, so a static method is refused too. */
  <Method extends (...args: any) => unknown>(
    prototype: CommandHandler,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<Method>,
  ): void;
}

/**
 * Declares one positional argument; a bare `@parameter()` declares a command without
 * arguments. `@parameter("key")` is short for `@parameter({ name: "key" })`.
 */
export function parameter(options?: ParameterOptions | string): CommandMethodDecorator {
  const param = typeof options === "string" ? { name: options } : options;
  return (...args: unknown[]): void => {
    const meta = metadataFor(methodOf(args));
    meta.isCommand = true;
    // Decorators run bottom-up, so prepending keeps the order in which they are written.
    if (param) meta.params.unshift({ ...param });
  };
}

/** Refuses the command with `-ERR Authorization required` until the connection has a user. */
export const authenticated: CommandMethodDecorator = (...args: unknown[]): void => {
  const meta = metadataFor(methodOf(args));
  meta.isCommand = true;
  meta.authenticated = true;
};

/** Names a command, gives it help text, or marks it authenticated, without declaring arguments. */
export function command(options: CommandOptions = {}): CommandMethodDecorator {
  return (...args: unknown[]): void => {
    const meta = metadataFor(methodOf(args));
    meta.isCommand = true;
    meta.options = { ...meta.options, ...options };
    if (options.authenticated) meta.authenticated = true;
  };
}
