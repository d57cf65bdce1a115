/**
 * A Redis-like key-value store: `ping`, `set`, `get`, `incr` and `del`, with Redis's
 * semantics for each. `npm run bench` serves it (bench/kv-server.mjs) beside redis-server
 * and a bare node:net server speaking the same commands.
 *
 *   npx tsx examples/kv.ts [port]  # run directly (default port 6380)
 *   npx retopy serve examples/kv.ts --port 6380
 *   telnet 127.0.0.1 6380          # set a 1 / incr a / get a / del a b / ping
 */
import { pathToFileURL } from "node:url";
import {
  Application,
  CommandError,
  CommandHandler,
  command,
  parameter,
  type RawArgument,
  RetopyServer,
  status,
  type Status,
} from "retopy";

/**
 * Values are kept exactly as they arrived (`type: "raw"`): a string when the client sent
 * plain ASCII, a Buffer otherwise. Replies send either back byte for byte, so `set a +1` /
 * `get a` gives back `+1` and any binary value round-trips. `incr` parses and re-stores it.
 */
const store = new Map<string, RawArgument>();

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** What Redis's string2ll accepts: no sign but `-`, no leading zeros, no spaces. */
const REDIS_INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

/**
 * The stored bytes as a signed 64-bit integer, or null when Redis would refuse it. Up to 15
 * digits fit a double exactly, so the common case stays a plain number.
 */
function parseInt64(stored: RawArgument): number | bigint | null {
  if (stored.length > 20) return null;
  const text = typeof stored === "string" ? stored : stored.toString("latin1"); // a non-ASCII byte never matches
  if (!REDIS_INTEGER.test(text)) return null;
  if (text.length <= 15) return Number(text);
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

class KeyValue extends CommandHandler {
  @parameter({ name: "message", help: "echoed back instead of PONG", default: null })
  @command({ help: "Replies PONG, or the message when one is given." })
  ping(): Status | string {
    const message = this.getArgument<string | null>("message");
    return message === null ? status("PONG") : message;
  }

  @parameter({ name: "key" })
  @parameter({ name: "value", type: "raw", help: "any bytes" })
  @command({ help: "Sets key to hold the value (raw bytes), overwriting any old value." })
  set(): Status {
    store.set(this.getArgument("key"), this.getArgument<RawArgument>("value"));
    return status("OK");
  }

  @parameter({ name: "key" })
  @command({ help: "Gets the value of key, byte for byte; nil when the key does not exist." })
  get(): RawArgument | null {
    return store.get(this.getArgument("key")) ?? null;
  }

  @parameter({ name: "key" })
  @command({ help: "Increments the integer stored at key by one; a missing key starts at 0." })
  incr(): number | bigint {
    const key = this.getArgument("key");
    const old = store.get(key);
    const current = old === undefined ? 0 : parseInt64(old);
    if (current === null) throw new CommandError("value is not an integer or out of range");
    if (typeof current === "number" && current < Number.MAX_SAFE_INTEGER) {
      store.set(key, String(current + 1));
      return current + 1;
    }
    const big = BigInt(current);
    if (big === INT64_MAX) throw new CommandError("increment or decrement would overflow");
    const next = big + 1n;
    store.set(key, next.toString());
    return Number.isSafeInteger(Number(next)) ? Number(next) : next; // exact either way
  }

  @parameter({ name: "key", variadic: true })
  @command({ help: "Removes the keys; replies how many existed. A missing key is ignored." })
  del(): number {
    let removed = 0;
    for (const key of this.getArguments("key")) if (store.delete(key)) removed++;
    return removed;
  }
}

export const app = new Application([KeyValue]);
export default app;

// Run directly (`tsx examples/kv.ts [port]`) as well as through `retopy serve`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = new RetopyServer(app);
  await server.listen(Number(process.argv[2] ?? 6380), "127.0.0.1");
  process.once("SIGINT", () => void server.close());
}
