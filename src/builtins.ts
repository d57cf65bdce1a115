import { RedisPingEcho } from "./compat/ping-echo.js";
import { RedisCompat } from "./compat/redis-compat.js";
import { command, parameter } from "./decorators.js";
import { CommandError, refuse } from "./errors.js";
import { CommandHandler, type HandlerClass } from "./handler.js";
import { type ReplyValue, type Status, status } from "./reply.js";
import { asciiLowerCase } from "./client-text.js";
import { WireErrors } from "./protocol/wire-errors.js";
import { rowLine } from "./cluster/stats-rows.js";
import type { ServerStats } from "./stats.js";

/** Commands every connection understands, whatever the application: `quit`. */
class ProtocolCommands extends CommandHandler {
  @command({ login: true, help: "Closes the connection after replying +OK." })
  quit(): Status {
    this.connection.close();
    return status("OK");
  }
}

/** The built-ins of `defaultHandlers`: `commands`, `help` and `stats` (and the pub/sub commands below). */
class DefaultCommands extends CommandHandler {
  @command({ help: "Lists every command with its parameters, one per line." })
  commands(): string[] {
    return this.application.commands.map((c) => c.usage);
  }

  @parameter({ name: "command", help: "the command to describe", default: "" })
  @command({ help: "Shows how to call a command and what its arguments mean." })
  help(): string[] {
    const name = this.getArgument("command");
    if (name === "") {
      return this.application.commands.map((c) => (c.help ? `${c.usage} - ${firstLine(c.help)}` : c.usage));
    }
    const definition = this.application.lookup(name);
    if (!definition) throw refuse(WireErrors.unknownCommand(name));
    const lines = [`Usage: ${definition.usage}`];
    if (definition.help) lines.push(...definition.help.trim().split(/\r?\n/).map((l) => l.trim()));
    if (definition.params.length > 0) {
      lines.push("Arguments description:");
      const width = Math.max(...definition.params.map((p) => p.name.length));
      for (const p of definition.params) lines.push(`  ${p.name.padEnd(width)} ${p.help}`.trimEnd());
    }
    return lines;
  }

  @command({ help: "Counts per command, connections, commands, errors and uptime (under --workers: the whole server, and one row per worker)." })
  stats(): Map<string, number | string> | Promise<Map<string, number | string>> {
    const cluster = this.server.cluster;
    if (!cluster) return this.#statsReply(this.server.stats());
    return cluster.collect().then(({ totals, rows, workerId }) => {
      const reply = this.#statsReply(totals);
      reply.set("workers", rows.length);
      reply.set("worker_id", workerId);
      for (const row of rows) reply.set(`worker${row.id}`, rowLine(row));
      return reply;
    });
  }

  #statsReply(stats: ServerStats): Map<string, number | string> {
    const reply = new Map<string, number | string>();
    for (const definition of this.application.commands) {
      // Own keys only: a command may be called `constructor` or `__proto__`.
      reply.set(definition.name, Object.hasOwn(stats.commandCounts, definition.name) ? stats.commandCounts[definition.name]! : 0);
    }
    reply.set("connections_current", stats.connectionsCurrent);
    reply.set("connections_total", stats.connectionsTotal);
    reply.set("connections_rejected", stats.connectionsRejected);
    reply.set("commands_total", stats.commandsTotal);
    reply.set("errors_total", stats.errorsTotal);
    reply.set("uptime_seconds", stats.uptimeSeconds);
    return reply;
  }
}

/**
 * Redis's publish/subscribe commands on the server's `PubSub`, mounted with the built-ins.
 * SUBSCRIBE and UNSUBSCRIBE answer with one push per channel and no reply of their own
 * (`skipReply()`), as Redis does: `>3 subscribe news 1` in RESP3, the same array in RESP2,
 * the line `subscribe news 1` in text mode. Unlike Redis in RESP2, a subscribed connection
 * may still run every command (a telnet user keeps chatting after `subscribe`).
 */
class PubSubCommands extends CommandHandler {
  @parameter({ name: "channel", help: "a channel to receive the messages of", variadic: true })
  @command({ help: "Subscribes to channels; pushes `subscribe <channel> <count>` for each, then every message published to them." })
  subscribe(): void {
    const { pubsub } = this.server;
    for (const channel of this.getArguments("channel")) {
      this.connection.push("subscribe", channel, pubsub.subscribe(this.connection, channel));
    }
    this.skipReply();
  }

  @parameter({ name: "channel", help: "channels to leave; none leaves every channel", variadic: true, default: [] })
  @command({ help: "Unsubscribes from channels (all without arguments); pushes `unsubscribe <channel> <count>` for each." })
  unsubscribe(): void {
    const { pubsub } = this.server;
    const channels = this.getArguments("channel");
    if (channels.length > 0) {
      for (const channel of channels) this.connection.push("unsubscribe", channel, pubsub.unsubscribe(this.connection, channel));
    } else {
      const left = pubsub.unsubscribeAll(this.connection);
      // Redis answers an UNSUBSCRIBE of nothing with a null channel and a count of 0.
      if (left.length === 0) this.connection.push("unsubscribe", null, 0);
      left.forEach((channel, i) => this.connection.push("unsubscribe", channel, left.length - 1 - i));
    }
    this.skipReply();
  }

  @parameter({ name: "channel", help: "the channel to publish to" })
  @parameter({ name: "message", help: "the message; binary-safe over RESP" })
  @command({ help: "Posts a message to a channel; replies with the number of subscribers that received it." })
  publish(): number {
    // The raw argument keeps a RESP message's bytes; bindArguments has checked the arity.
    const message = this.command.args[1] ?? this.getArgument("message");
    return this.server.pubsub.publish(this.getArgument("channel"), message);
  }

  @parameter({ name: "subcommand", help: "CHANNELS, NUMSUB, NUMPAT or HELP" })
  @parameter({ name: "args", help: "the subcommand's arguments", variadic: true, default: [] })
  @command({ help: "Inspects the channels: PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT | HELP." })
  pubsub(): ReplyValue {
    const { pubsub } = this.server;
    const sub = this.getArgument("subcommand");
    const args = this.getArguments("args");
    switch (asciiLowerCase(sub)) {
      case "channels":
        if (args.length > 1) throw wrongArity("pubsub|channels");
        return pubsub.channels(args[0]);
      case "numsub":
        return new Map(args.map((channel) => [channel, pubsub.subscriberCount(channel)]));
      case "numpat":
        if (args.length !== 0) throw wrongArity("pubsub|numpat");
        return 0; // pattern subscriptions (PSUBSCRIBE) are not supported
      case "help":
        return [
          "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
          "CHANNELS [<pattern>]",
          "    Return the currently active channels matching a <pattern> (default: '*').",
          "NUMPAT",
          "    Return number of subscriptions to patterns (always 0).",
          "NUMSUB [<channel> ...]",
          "    Return the number of subscribers for the specified channels.",
          "HELP",
          "    Print this help.",
        ];
      default:
        throw refuse(WireErrors.unknownSubcommand(sub, "PUBSUB"));
    }
  }
}

function wrongArity(name: string): CommandError {
  return refuse(WireErrors.wrongArity(name));
}

function firstLine(text: string): string {
  return text.trim().split(/\r?\n/)[0] ?? "";
}

/** Always mounted: `quit`. */
export const protocolHandlers: readonly HandlerClass[] = [ProtocolCommands];
/** The Redis compatibility set of the `redisCommands` setting (PING, ECHO, HELLO, AUTH, CLIENT, ...). */
export const redisHandlers: readonly HandlerClass[] = [RedisPingEcho, RedisCompat];
export const builtinHandlers: readonly HandlerClass[] = [DefaultCommands, PubSubCommands];
