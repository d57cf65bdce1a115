import type { CommandOptions, ParameterOptions } from "./command-spec.js";

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
    if ((second as { kind: string }).kind !== "method") {
      throw new TypeError("retopy decorators apply to methods only");
    }
    return first;
  }
  // experimentalDecorators: (prototype, key, descriptor).
  const descriptor = third as PropertyDescriptor | undefined;
  if (descriptor && typeof descriptor.value === "function") return descriptor.value as AnyMethod;
  throw new TypeError("retopy decorators apply to methods only");
}

type MethodDecorator = (...args: any[]) => void;

/**
 * Declares one positional argument; a bare `@parameter()` declares a command without
 * arguments. `@parameter("key")` is short for `@parameter({ name: "key" })`.
 */
export function parameter(options?: ParameterOptions | string): MethodDecorator {
  const param = typeof options === "string" ? { name: options } : options;
  return (...args: unknown[]) => {
    const meta = metadataFor(methodOf(args));
    meta.isCommand = true;
    // Decorators run bottom-up, so prepending keeps the order in which they are written.
    if (param) meta.params.unshift({ ...param });
  };
}

/** Refuses the command with `-ERR Authorization required` until the connection has a user. */
export function authenticated(...args: unknown[]): void {
  const meta = metadataFor(methodOf(args));
  meta.isCommand = true;
  meta.authenticated = true;
}

/** Names a command, gives it help text, or marks it authenticated, without declaring arguments. */
export function command(options: CommandOptions = {}): MethodDecorator {
  return (...args: unknown[]) => {
    const meta = metadataFor(methodOf(args));
    meta.isCommand = true;
    meta.options = { ...meta.options, ...options };
    if (options.authenticated) meta.authenticated = true;
  };
}
