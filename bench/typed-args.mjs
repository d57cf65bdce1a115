// `node bench/typed-args.mjs` (after `npm run build`): what the typed accessors cost per
// command next to the seed's getArgument, in process: one handler built per command (as the
// runner does) from one shared context shape, two arguments read. Fastest of 15 round-robin runs.
import { Application, CommandHandler, TypedHandler } from "../dist/src/index.js";

const app = new Application();
app.command("set", { params: ["key", { name: "value", type: "int" }] }, () => undefined);
const definition = app.lookup("set");
const values = ["k", 42];
const context = { application: app, connection: null, server: null, definition, argv: ["set", "k", "42"], values, signal: undefined };
const N = 2_000_000;
/** A user's handler class with no members of its own, as every decorated handler is. */
class UserHandler extends CommandHandler {}

const cases = {
  "CommandHandler + getArgument x2": () => {
    let sink = 0;
    for (let i = 0; i < N; i++) {
      const h = new CommandHandler({ ...context });
      sink += h.getArgument("key").length + h.getArgument("value");
    }
    return sink;
  },
  "UserHandler + getArgument x2": () => {
    let sink = 0;
    for (let i = 0; i < N; i++) {
      const h = new UserHandler({ ...context });
      sink += h.getArgument("key").length + h.getArgument("value");
    }
    return sink;
  },
  "TypedHandler + getArgument x2": () => {
    let sink = 0;
    for (let i = 0; i < N; i++) {
      const h = new TypedHandler({ ...context });
      sink += h.getArgument("key").length + h.getArgument("value");
    }
    return sink;
  },
  "TypedHandler + arg() x2": () => {
    let sink = 0;
    for (let i = 0; i < N; i++) {
      const h = new TypedHandler({ ...context });
      sink += h.arg("key").length + h.arg("value");
    }
    return sink;
  },
  "TypedHandler + args destructured": () => {
    let sink = 0;
    for (let i = 0; i < N; i++) {
      const h = new TypedHandler({ ...context });
      const { key, value } = h.args;
      sink += key.length + value;
    }
    return sink;
  },
};

// Round-robin runs, the fastest of each kept: other processes on the machine only add time.
const best = Object.fromEntries(Object.keys(cases).map((name) => [name, Infinity]));
for (let run = 0; run < 15; run++) {
  for (const [name, fn] of Object.entries(cases)) {
    const start = process.hrtime.bigint();
    fn();
    best[name] = Math.min(best[name], Number(process.hrtime.bigint() - start) / N);
  }
}
for (const [name, ns] of Object.entries(best)) console.log(`${name.padEnd(34)} ${ns.toFixed(1)} ns/command`);
