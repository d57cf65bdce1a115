/**
 * The original retopy README's example, in TypeScript: counters, ping and a login.
 *
 *   npm start                      # serves this file on port 8000 through the CLI
 *   npx tsx examples/counter.ts    # or run it directly
 *   telnet 127.0.0.1 8000          # first line is the header, then commands
 */
import { pathToFileURL } from "node:url";
import {
  Application,
  authenticated,
  CommandError,
  CommandHandler,
  command,
  parameter,
  passwordAuthenticator,
  RetopyServer,
  status,
} from "retopy";

const counters = new Map<string, number>();

class CounterHandler extends CommandHandler {
  @parameter({ name: "key", help: "the counter's name" })
  @command({ help: "Increments the number stored at key by one; a missing key starts at 0." })
  increment(): number {
    const key = this.getArgument("key");
    const value = (counters.get(key) ?? 0) + 1;
    counters.set(key, value);
    return value;
  }

  @parameter({ name: "key", help: "the counter's name" })
  @command({ help: "Decrements the number stored at key by one; a missing key starts at 0." })
  decrement(): number {
    const key = this.getArgument("key");
    const value = (counters.get(key) ?? 0) - 1;
    counters.set(key, value);
    return value;
  }

  @parameter({ name: "key", help: "the counter's name" })
  @command({ help: "Gets the value of key; an error if the key does not exist." })
  get(): void {
    const key = this.getArgument("key");
    const value = counters.get(key);
    if (value === undefined) throw new CommandError(`${key} Not found`);
    this.write(value);
  }

  @parameter({ name: "key", help: "the counter's name" })
  @parameter({ name: "value", type: "int", help: "an integer" })
  @command({ help: "Sets key to hold the integer value, overwriting any old value." })
  set(): void {
    const key = this.getArgument("key");
    counters.set(key, this.getArgument<number>("value"));
    this.write(counters.get(key));
  }

  @parameter({ name: "key", help: "counters to remove", variadic: true })
  @command({ help: "Removes the specified keys. A key that does not exist is ignored." })
  rem(): void {
    for (const key of this.getArguments("key")) counters.delete(key);
    this.write(status("OK"));
  }
}

export class PingHandler extends CommandHandler {
  @parameter()
  @command({ help: "Returns PONG; tests that the connection is alive." })
  ping(): void {
    this.write(status("PONG"));
  }
}

export class LoginHandler extends CommandHandler {
  @parameter()
  @authenticated
  auth_test(): void {
    this.write("authorized to run this command");
  }

  @parameter({ name: "username" })
  @parameter({ name: "password" })
  @command({ login: true, help: "Logs the connection in; authenticated commands work afterwards." })
  async authenticate(): Promise<void> {
    // The guarded path AUTH uses too: constant-time check, a delay after a failure, and a
    // close after too many. Both must match (the original's `not a and not b` let either through).
    if (!(await this.attemptLogin(this.getArgument("username"), this.getArgument("password")))) {
      throw new CommandError("Wrong username or password");
    }
    this.write(status("OK"));
  }
}

export const app = new Application([CounterHandler, PingHandler, LoginHandler], {
  defaultHandlers: true,
  // The login of the original README; AUTH, HELLO ... AUTH and `auth=` in the header accept it too.
  authenticate: passwordAuthenticator({ myusername: "mypass" }),
});
export default app;

// Run directly (`tsx examples/counter.ts [port]`) as well as through `retopy serve`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = new RetopyServer(app);
  await server.listen(Number(process.argv[2] ?? 8000));
  process.once("SIGINT", () => void server.close());
}
