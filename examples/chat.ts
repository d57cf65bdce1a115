/**
 * A telnet chat on retopy's pub/sub: every room is a channel, and what is said in a room
 * is pushed to everyone in it as one line, `message <room> <nick>: <text>`.
 *
 *   npx tsx examples/chat.ts [port]        # run directly (default port 8001)
 *   npx retopy serve examples/chat.ts --port 8001
 *   telnet 127.0.0.1 8001                  # nick ada / join lobby / say lobby hi all / who lobby / leave lobby
 *
 * `join`, `say` and `leave` answer with the room's own message (your join, your words, your
 * leaving), so everyone in a room, you included, sees the same lines in the same order. A
 * Redis-protocol client (retopy's own client, ioredis) gets `+OK` as well: there, a push is
 * never the reply to a call.
 */
import { pathToFileURL } from "node:url";
import { Application, CommandError, CommandHandler, command, parameter, RetopyServer, status, type Status } from "retopy";

const NICK = /^[\w.-]{1,32}$/;

class Chat extends CommandHandler {
  /** The nickname is the connection's name (CLIENT SETNAME sets it too). */
  get me(): string {
    return this.connection.clientName ?? `guest${this.connection.clientId}`;
  }

  /** In the text protocol the room's message is the answer; over RESP, `+OK` follows it. */
  answered(): Status | undefined {
    if (this.connection.protocol !== "text") return status("OK");
    this.skipReply();
    return undefined;
  }

  /** True if this connection is in `room`. */
  inRoom(room: string): boolean {
    return this.server.pubsub.subscriptions(this.connection).includes(room);
  }

  @parameter({ name: "name", help: "1 to 32 letters, digits, '_', '.' or '-'" })
  @command({ help: "Sets your nickname." })
  nick(): Status {
    const name = this.getArgument("name");
    if (!NICK.test(name)) throw new CommandError("a nickname is 1 to 32 letters, digits, '_', '.' or '-'");
    this.connection.clientName = name;
    return status("OK");
  }

  @parameter({ name: "room", help: "the room to enter" })
  @command({ help: "Enters a room and tells everyone in it, you included." })
  async join(): Promise<Status | undefined> {
    const room = this.getArgument("room");
    if (this.inRoom(room)) throw new CommandError(`you are already in ${room}`);
    this.server.pubsub.subscribe(this.connection, room);
    // Through Redis (--pubsub) the subscription is made there first, or our own line would pass us by.
    await this.server.pubsub.confirmed();
    await this.server.pubsub.publish(room, `${this.me} joined`);
    return this.answered();
  }

  @parameter({ name: "room", help: "a room you are in" })
  @parameter({ name: "text", help: "what to say", variadic: true })
  @command({ help: "Says something to everyone in a room." })
  async say(): Promise<Status | undefined> {
    const room = this.getArgument("room");
    if (!this.inRoom(room)) throw new CommandError(`join ${room} first`);
    await this.server.pubsub.publish(room, `${this.me}: ${this.getArguments("text").join(" ")}`);
    return this.answered();
  }

  @parameter({ name: "room", help: "a room you are in" })
  @command({ help: "Leaves a room, telling everyone in it, you included." })
  async leave(): Promise<Status | undefined> {
    const room = this.getArgument("room");
    if (!this.inRoom(room)) throw new CommandError(`you are not in ${room}`);
    const line = `${this.me} left`;
    // Out of the room first, then tell it: through another process (--workers, --pubsub) our
    // own copy could come back after we left, so we hand ourselves the same line directly.
    this.server.pubsub.unsubscribe(this.connection, room);
    await this.server.pubsub.publish(room, line);
    if (this.connection.protocol !== "resp2") this.connection.push("message", room, line);
    return this.answered();
  }

  @parameter({ name: "room", help: "any room" })
  // The connections of this process only: `server.pubsub` knows no names from other workers or machines.
  @command({ help: "Lists who is in a room on this server process, one nickname per line." })
  who(): string[] {
    return this.server.pubsub.subscribers(this.getArgument("room")).map((c) => c.clientName ?? `guest${c.clientId}`);
  }
}

export const app = new Application([Chat]);
export default app;

// Run directly (`tsx examples/chat.ts [port]`) as well as through `retopy serve`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = new RetopyServer(app);
  await server.listen(Number(process.argv[2] ?? 8001));
  process.once("SIGINT", () => void server.close());
}
