import { RedisPingEcho } from "./compat/ping-echo.js";
import { RedisCompat } from "./compat/redis-compat.js";
import { command, parameter } from "./decorators.js";
import { refuse } from "./errors.js";
import { CommandHandler, type HandlerClass } from "./handler.js";
import { type Status, status } from "./reply.js";
import { PubSubCommands } from "./pubsub/commands.js";
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

function firstLine(text: string): string {
  return text.trim().split(/\r?\n/)[0] ?? "";
}

/** Always mounted: `quit`. */
export const protocolHandlers: readonly HandlerClass[] = [ProtocolCommands];
/** The Redis compatibility set of the `redisCommands` setting (PING, ECHO, HELLO, AUTH, CLIENT, ...). */
export const redisHandlers: readonly HandlerClass[] = [RedisPingEcho, RedisCompat];
export const builtinHandlers: readonly HandlerClass[] = [DefaultCommands, PubSubCommands];
