/**
 * Redis's publish/subscribe commands on the server's `PubSub`, mounted with the built-ins:
 * SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB.
 *
 * The (un)subscribe commands answer with one push per name and no reply of their own
 * (`skipReply()`), as Redis does: `>3 subscribe news 1` in RESP3, the same array in RESP2,
 * the line `subscribe news 1` in text mode. The count is the connection's channels plus
 * patterns. Unlike Redis in RESP2, a subscribed connection may still run every command (a
 * telnet user keeps chatting after `subscribe`).
 */
import { isUtf8 } from "node:buffer";
import { command, parameter } from "../decorators.js";
import { CommandError, refuse } from "../errors.js";
import { CommandHandler } from "../handler.js";
import type { ReplyValue } from "../reply.js";
import { asciiLowerCase } from "../client-text.js";
import { WireErrors } from "../protocol/wire-errors.js";
import type { PubSub } from "./registry.js";
import type { ConnectionInfo } from "../connection-info.js";

type Kind = "subscribe" | "psubscribe";

export class PubSubCommands extends CommandHandler {
  @parameter({ name: "channel", help: "a channel to receive the messages of", variadic: true })
  @command({ help: "Subscribes to channels; pushes `subscribe <channel> <count>` for each, then every message published to them." })
  subscribe(): void | Promise<void> {
    this.#utf8Names(0);
    return this.#subscribe("subscribe", this.getArguments("channel"));
  }

  @parameter({ name: "pattern", help: "a glob pattern of channels (Redis's: * ? [abc] [^a] [a-z] \\x)", variadic: true })
  @command({ help: "Subscribes to channel patterns; pushes `psubscribe <pattern> <count>` for each, then `pmessage <pattern> <channel> <message>` for every match." })
  psubscribe(): void | Promise<void> {
    this.#utf8Names(0);
    return this.#subscribe("psubscribe", this.getArguments("pattern"));
  }

  @parameter({ name: "channel", help: "channels to leave; none leaves every channel", variadic: true, default: [] })
  @command({ help: "Unsubscribes from channels (all without arguments); pushes `unsubscribe <channel> <count>` for each." })
  unsubscribe(): void {
    this.#utf8Names(0);
    this.#unsubscribe("unsubscribe", this.getArguments("channel"));
  }

  @parameter({ name: "pattern", help: "patterns to leave; none leaves every pattern", variadic: true, default: [] })
  @command({ help: "Unsubscribes from patterns (all without arguments); pushes `punsubscribe <pattern> <count>` for each." })
  punsubscribe(): void {
    this.#utf8Names(0);
    this.#unsubscribe("punsubscribe", this.getArguments("pattern"));
  }

  @parameter({ name: "channel", help: "the channel to publish to" })
  @parameter({ name: "message", help: "the message; binary-safe over RESP" })
  @command({ help: "Posts a message to a channel; replies with the number of subscribers that received it." })
  publish(): number | Promise<number> {
    this.#utf8Names(0, 1);
    // The raw argument keeps a RESP message's bytes; bindArguments has checked the arity.
    const message = this.command.args[1] ?? this.getArgument("message");
    return this.server.pubsub.publish(this.getArgument("channel"), message);
  }

  @parameter({ name: "subcommand", help: "CHANNELS, NUMSUB, NUMPAT or HELP" })
  @parameter({ name: "args", help: "the subcommand's arguments", variadic: true, default: [] })
  @command({ help: "Inspects the channels: PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | HELP." })
  pubsub(): ReplyValue | Promise<ReplyValue> {
    const { pubsub } = this.server;
    const sub = this.getArgument("subcommand");
    this.#utf8Names(1);
    const args = this.getArguments("args");
    switch (asciiLowerCase(sub)) {
      case "channels":
        if (args.length > 1) throw wrongArity("pubsub|channels");
        return pubsub.activeChannels(args[0]);
      case "numsub": {
        const counts = pubsub.numsub(args);
        const reply = (values: number[]) => new Map(args.map((channel, i) => [channel, values[i] ?? 0]));
        return Array.isArray(counts) ? reply(counts) : counts.then(reply);
      }
      case "numpat":
        if (args.length !== 0) throw wrongArity("pubsub|numpat");
        return pubsub.numpat();
      case "help":
        return [
          "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
          "CHANNELS [<pattern>]",
          "    Return the currently active channels matching a <pattern> (default: '*').",
          "NUMPAT",
          "    Return number of subscriptions to patterns.",
          "NUMSUB [<channel> ...]",
          "    Return the number of subscribers for the specified channels.",
          "HELP",
          "    Print this help.",
        ];
      default:
        throw refuse(WireErrors.unknownSubcommand(sub, "PUBSUB"));
    }
  }

  /**
   * Refuses raw arguments from `from` (to `to`) that are not UTF-8. Names are strings here, and
   * decoding swaps bad bytes for U+FFFD: SUBSCRIBE \xff and PUBLISH \xfe would meet.
   */
  #utf8Names(from: number, to?: number): void {
    for (const raw of this.command.args.slice(from, to)) {
      if (typeof raw !== "string" && !isUtf8(raw)) throw refuse(WireErrors.pubsubNameNotUtf8);
    }
  }

  /** Subscribes to each name; once the transport confirms (at once in-process), pushes the confirmations. */
  #subscribe(kind: Kind, names: readonly string[]): void | Promise<void> {
    const { pubsub } = this.server;
    const counts = names.map((name) => add(pubsub, kind, this.connection, name));
    this.skipReply();
    const confirmed = pubsub.confirmed();
    const confirm = () => names.forEach((name, i) => this.connection.push(kind, name, counts[i]!));
    if (!confirmed) return confirm();
    return confirmed.then(confirm);
  }

  #unsubscribe(kind: "unsubscribe" | "punsubscribe", names: readonly string[]): void {
    const { pubsub } = this.server;
    const connection = this.connection;
    const remove = kind === "unsubscribe" ? pubsub.unsubscribe.bind(pubsub) : pubsub.punsubscribe.bind(pubsub);
    if (names.length > 0) {
      for (const name of names) connection.push(kind, name, remove(connection, name));
    } else {
      const left = kind === "unsubscribe" ? pubsub.unsubscribeAll(connection) : pubsub.punsubscribeAll(connection);
      const others = pubsub.subscriptionCount(connection);
      // Redis answers a leave-all with nothing to leave with a null name and the count left.
      if (left.length === 0) connection.push(kind, null, others);
      left.forEach((name, i) => connection.push(kind, name, others + left.length - 1 - i));
    }
    this.skipReply();
  }
}

function add(pubsub: PubSub, kind: Kind, connection: ConnectionInfo, name: string): number {
  return kind === "subscribe" ? pubsub.subscribe(connection, name) : pubsub.psubscribe(connection, name);
}

function wrongArity(name: string): CommandError {
  return refuse(WireErrors.wrongArity(name));
}
