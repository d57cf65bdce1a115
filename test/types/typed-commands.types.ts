/**
 * Compile-time tests of typed commands: checked by `npm run typecheck` (this file is under
 * test/, which tsconfig.json includes), never run. Each `@ts-expect-error` must meet an
 * error, or tsc fails on the unused directive; the `Equal` checks fail on any drift of an
 * inferred type. test/typecheck.test.ts proves tsc really reports such errors.
 */
import {
  Application,
  type ArgumentsOf,
  Command,
  CommandHandler,
  type ParameterOptions,
  type RawArgument,
  status,
  TypedHandler,
} from "../../src/index.js";

/** True only when A and B are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const check = <T extends true>(): T => true as T;

const hex = (raw: string): number => Number.parseInt(raw, 16);
const app = new Application();

// ---- app.command: every kind of parameter, written in place (no `as const` needed) ----

app.command(
  "everything",
  {
    params: [
      "key",
      { name: "count", type: "int" },
      { name: "ratio", type: "float" },
      { name: "flag", type: "boolean" },
      { name: "color", type: hex },
      { name: "bytes", type: "buffer" },
      { name: "value", type: "raw" },
      { name: "label", optional: true },
      { name: "limit", type: "int", default: 10 },
      { name: "rest", type: "int", variadic: true },
    ],
  },
  (h) => {
    check<
      Equal<
        typeof h.args,
        {
          readonly key: string;
          readonly count: number;
          readonly ratio: number;
          readonly flag: boolean;
          readonly color: number;
          readonly bytes: Buffer;
          readonly value: RawArgument;
          readonly label: string | undefined;
          readonly limit: number;
          readonly rest: number[];
        }
      >
    >();
    check<Equal<ReturnType<typeof h.arg<"count">>, number>>();
    const count: number = h.arg("count");
    // @ts-expect-error a misspelt name is not an argument
    h.args.cuont;
    // @ts-expect-error a misspelt name is refused by the accessor too
    h.arg("cuont");
    // @ts-expect-error an int is a number, not a string
    const wrong: string = h.args.count;
    // @ts-expect-error an optional argument may be undefined
    const label: string = h.args.label;
    // @ts-expect-error arguments are read-only
    h.args.key = "other";
    // The seed's style still works on the same handler, unchecked as before.
    const old: number = h.getArgument<number>("count");
    return [count, wrong, label, old];
  },
);

// `this` is the same typed handler in a `function` (as in the seed's `app.command`).
app.command("shout", { params: ["word", { name: "times", type: "int", default: 1 }] }, function () {
  check<Equal<typeof this.args, { readonly word: string; readonly times: number }>>();
  return this.args.word.repeat(this.args.times);
});

// A variadic parameter with a default: the converted array or the default's type.
app.command("tags", { params: [{ name: "tag", variadic: true, default: "none" }] }, (h) => {
  check<Equal<typeof h.args.tag, string[] | "none">>();
});

// A default of another type than the conversion shows up in the union, as it is what is bound.
app.command("mixed", { params: [{ name: "n", type: "int", default: "all" }] }, (h) => {
  check<Equal<typeof h.args.n, number | "all">>();
});

// A parameter list declared once, `as const`, and reused.
const pairParams = ["left", { name: "right", type: "float" }] as const;
type PairArgs = ArgumentsOf<typeof pairParams>;
check<Equal<PairArgs, { readonly left: string; readonly right: number }>>();
app.command("pair", { params: pairParams }, ({ args }) => `${args.left}${args.right.toFixed(1)}`);

// No params: no arguments at all.
app.command("ping", {}, (h) => {
  check<Equal<typeof h.args, {}>>();
  // @ts-expect-error nothing was declared
  h.arg("anything");
  return status("PONG");
});

// A list whose names the compiler cannot know falls back to the seed's looseness.
const dynamic: ParameterOptions[] = [{ name: "k" }];
app.command("dynamic", { params: dynamic }, (h) => {
  check<Equal<typeof h.args, Record<string, unknown>>>();
});

// The seed's untyped form still compiles: a function typed with the base handler.
app.command("seed", { params: ["key"] }, (h: CommandHandler) => h.getArgument("key"));

// @ts-expect-error "integer" is not a parameter type
app.command("badtype", { params: [{ name: "n", type: "integer" }] }, () => undefined);

// @ts-expect-error a converter takes the raw string
app.command("badconverter", { params: [{ name: "n", type: (raw: number) => raw + 1 }] }, () => undefined);

// @ts-expect-error a parameter needs a name
app.command("noname", { params: [{ type: "int" }] }, () => undefined);

// Without `as const` a list declared apart widens `type` to string, which is refused.
const widened = [{ name: "n", type: "int" }];
// @ts-expect-error (write `as const`, or the list in place)
app.command("widened", { params: widened }, () => undefined);

// ---- Command(...) classes ----

class IncrBy extends Command({
  name: "incrby",
  help: "Adds by to key.",
  params: ["key", { name: "by", type: "int" }, { name: "more", type: "float", variadic: true, optional: true }],
}) {
  run(): number {
    check<Equal<typeof this.args, { readonly key: string; readonly by: number; readonly more: number[] }>>();
    // @ts-expect-error a misspelt name
    this.args.bye;
    // @ts-expect-error a misspelt name through the accessor
    this.arg("bye");
    // @ts-expect-error an int is not a string
    const text: string = this.arg("by");
    return this.args.by + this.args.more.length + text.length;
  }
}

// @ts-expect-error a Command class must implement run()
class NoRun extends Command({ name: "norun", params: ["key"] }) {}

// @ts-expect-error a Command needs its wire name
class NoName extends Command({ params: ["key"] }) {
  run(): void {}
}

// A Command class is a handler class: hooks and the seed's accessors are there.
class WithHooks extends Command({ name: "hooked", params: [{ name: "n", type: "int" }] }) {
  override prepare(): void {
    if (this.args.n < 0) throw new Error("negative");
  }
  async run(): Promise<string> {
    return `${this.getArgument<number>("n")}:${this.connection.id}`;
  }
}

new Application([IncrBy, WithHooks, NoRun, NoName]);
new Application([[IncrBy, { any: "options" }]]);

// TypedHandler can be named in helpers that take a handler of known arguments.
function describeKey(h: TypedHandler<{ readonly key: string }>): string {
  return `key=${h.args.key}`;
}
app.command("describe", { params: ["key", "extra"] }, (h) => describeKey(h));
// @ts-expect-error a handler without `key` does not fit
app.command("describe2", { params: ["other"] }, (h) => describeKey(h));
