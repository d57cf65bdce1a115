/**
 * The types of typed commands: from a parameter list written in place (or `as const`), the
 * object of converted arguments a command receives. Types only: nothing here runs.
 *
 *   ["key", { name: "count", type: "int", default: 1 }, { name: "tags", variadic: true }]
 *     → { key: string; count: number; tags: string[] }
 */
import type { CommandOptions, ParameterOptions, RawArgument } from "./command-spec.js";

/** One parameter of a typed command: a bare name (a required string) or its options. */
export type ParameterDeclaration = string | ParameterOptions;

/** What a parameter's `type` converts the client's word to. */
export type ConvertedType<T> = T extends undefined
  ? string
  : T extends "string"
    ? string
    : T extends "int" | "float"
      ? number
      : T extends "boolean"
        ? boolean
        : T extends "buffer"
          ? Buffer
          : T extends "raw"
            ? RawArgument
            : T extends (raw: string) => infer R
              ? R
              : unknown;

type TypeOf<P> = P extends { type: infer T } ? T : undefined;

/** A declared `default` that is not undefined, or never. */
type DefaultOf<P> = P extends { default: infer D } ? Exclude<D, undefined> : never;

type HasDefault<P> = [DefaultOf<P>] extends [never] ? false : true;

/** The value a command sees for one parameter declaration. */
export type ArgumentValue<P> = P extends string
  ? string
  : P extends { variadic: true }
    ? // Variadic: every remaining word converted; the default when none was given.
      HasDefault<P> extends true
      ? ConvertedType<TypeOf<P>>[] | DefaultOf<P>
      : ConvertedType<TypeOf<P>>[]
    : HasDefault<P> extends true
      ? ConvertedType<TypeOf<P>> | DefaultOf<P>
      : P extends { optional: true }
        ? ConvertedType<TypeOf<P>> | undefined
        : ConvertedType<TypeOf<P>>;

type NameOf<P> = P extends string ? P : P extends { name: infer N extends string } ? N : never;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * The converted arguments of a parameter list, by name. A list whose names are not known
 * to the compiler (a `ParameterOptions[]` variable) gives `Record<string, unknown>`.
 */
export type ArgumentsOf<Params extends readonly ParameterDeclaration[]> = number extends Params["length"]
  ? Record<string, unknown>
  : Simplify<{ readonly [P in Params[number] as NameOf<P>]: ArgumentValue<P> }>;

/** A typed command's declaration: its parameters, help, login and timeout options. */
export interface TypedCommandSpec<Params extends readonly ParameterDeclaration[]> extends Omit<CommandOptions, "name"> {
  params?: Params;
}
