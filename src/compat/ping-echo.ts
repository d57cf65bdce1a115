/**
 * Redis's PING and ECHO, with Redis's exact replies, so a client library's `ping()`, a
 * health check, `redis-cli ping` and `redis-cli --pipe` (which ends its input with
 * `ECHO <20 random bytes>` and waits for them) work against any application.
 *
 * | request | RESP2 / RESP3 | RESP2 while subscribed | text (telnet) |
 * |---|---|---|---|
 * | `PING` | `+PONG` | `*2 $4 pong $0 ""` | `+PONG` |
 * | `PING msg` | bulk `msg` | `*2 $4 pong $3 msg` | `msg` |
 * | `ECHO msg` | bulk `msg` (bytes as sent) | the same | `msg` |
 *
 * Arity errors use Redis's words: `-ERR wrong number of arguments for 'ping' command`.
 * An application's own `ping` or `echo` replaces these.
 */
import { command, parameter } from "../decorators.js";
import { refuse } from "../errors.js";
import { CommandHandler } from "../handler.js";
import { type ReplyValue, status } from "../reply.js";
import { WireErrors } from "../protocol/wire-errors.js";

const PONG = status("PONG");

export class RedisPingEcho extends CommandHandler {
  // Variadic, with the arity checked here: the parameter list's own error would not read as Redis's.
  @parameter({ name: "message", help: "a message to reply with instead of PONG", variadic: true, default: [] })
  @command({ help: "Replies PONG, or the message: PING [message]." })
  ping(): ReplyValue {
    const args = this.command.args;
    if (args.length > 1) throw refuse(WireErrors.wrongArity("ping"));
    const message = args.length === 1 ? args[0]! : null;
    // Redis in RESP2 pub/sub mode answers in the shape of a message, so a subscriber's
    // client can tell the reply from its stream of pushes; RESP3 has pushes for that.
    if (this.connection.protocol === "resp2" && this.server.pubsub.subscriptionCount(this.connection) > 0) {
      return ["pong", message ?? ""];
    }
    return message ?? PONG;
  }

  @parameter({ name: "message", help: "the message to reply with; binary-safe over RESP", variadic: true, default: [] })
  @command({ help: "Replies with the message, byte for byte: ECHO message." })
  echo(): ReplyValue {
    const args = this.command.args;
    if (args.length !== 1) throw refuse(WireErrors.wrongArity("echo"));
    return args[0]!;
  }
}
