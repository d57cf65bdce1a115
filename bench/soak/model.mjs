// The valid commands and the exact model they are checked against: request encoders for
// both protocols, the replies expected, and ClientState, one client's key space and what the
// server must hold there. Nothing here does I/O, so a reply is right or wrong byte for byte.
import { KEYS, SEED } from "./config.mjs";
import { QUOTED, Random, WORD } from "./random.mjs";

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const REDIS_INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

export function respRequest(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(arg, "latin1");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** A text line; arguments with spaces (or empty) are double-quoted (QUOTED has no `"` or `\`). */
export function textRequest(args) {
  const words = args.map((arg) => {
    const text = Buffer.isBuffer(arg) ? arg.toString("latin1") : arg;
    return text === "" || /[ ']/.test(text) ? `"${text}"` : text;
  });
  return Buffer.from(`${words.join(" ")}\r\n`, "latin1");
}

/** Expected reply encodings per protocol. */
export const reply = {
  status: (text) => Buffer.from(`+${text}\r\n`),
  integer: (n, format) => Buffer.from(format === "resp" ? `:${n}\r\n` : `${n}\r\n`),
  bulk: (bytes, format) =>
    format === "resp"
      ? Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n")])
      : Buffer.concat([bytes, Buffer.from("\r\n")]),
  nil: (format) => Buffer.from(format === "resp" ? "$-1\r\n" : "(nil)\r\n"),
  error: (message) => Object.assign(Buffer.from(`-ERR ${message}\r\n`, "latin1"), { isError: true }),
};

/**
 * Can a text client read this value back exactly? Printable ASCII only, and not starting with
 * `"`: the server shows such a value quoted, redis-cli style, so it reads back unambiguously.
 */
function textSafe(value) {
  if (value[0] === 0x22) return false;
  for (const byte of value) if (byte < 0x20 || byte > 0x7e) return false;
  return true;
}

function commandName(rng, name) {
  const roll = rng.next();
  if (roll < 0.6) return name;
  if (roll < 0.85) return name.toUpperCase();
  return [...name].map((c) => (rng.chance(0.5) ? c.toUpperCase() : c)).join("");
}

/** One client's key space and its exact model of what the server holds there. */
export class ClientState {
  constructor(id) {
    this.id = id;
    this.rng = new Random((SEED ^ Math.imul(id + 1, 0x9e3779b1)) >>> 0);
    this.generation = 0;
    this.model = new Map(); // key -> Buffer
    this.dirty = []; // generations whose contents are unknown
    this.sessions = 0;
  }

  key(n) {
    return `soak:${this.id}:${this.generation}:k${n}`;
  }

  /** The model is no longer exact (a cut or failed session): start a fresh key space. */
  abandon() {
    this.dirty.push(this.generation);
    this.generation++;
    this.model.clear();
  }

  value(format) {
    const rng = this.rng;
    const roll = rng.next();
    if (roll < 0.3) {
      const edge = rng.next();
      if (edge < 0.05) return Buffer.from(rng.pick(["9223372036854775806", "9223372036854775807", "-9223372036854775808", "9223372036854775808"]));
      if (edge < 0.12) return Buffer.from(rng.pick(["007", "+5", "1.5", "0x10", "-0", "12345678901234567890123"]));
      return Buffer.from(String(rng.int(-1000, 1000)));
    }
    if (roll < 0.55 || format === "text") {
      if (format === "text" && rng.chance(0.15)) return Buffer.from(rng.string(QUOTED, 0, 30), "latin1");
      return Buffer.from(rng.string(WORD, 1, 40), "latin1");
    }
    if (roll < 0.85) return rng.bytes(0, 100);
    if (roll < 0.97) return Buffer.from(rng.string(WORD, 65, 2000), "latin1");
    return rng.bytes(2000, 16_000);
  }

  /**
   * One command for `format` and the reply it must get, applied to the model now (the server
   * runs one connection's commands in order). `first`: the first line of a text connection,
   * which must start with a registered command or it is taken as the handshake.
   */
  command(format, first = false) {
    const rng = this.rng;
    const n = rng.int(0, KEYS - 1);
    const key = this.key(n);
    let op = rng.weighted({ set: 30, get: 30, incr: 15, del: 8, ping: 7, error: 5 });
    if (op === "get" && format === "text") {
      const stored = this.model.get(key);
      if (stored !== undefined && !textSafe(stored)) op = "set";
    }
    const name = (word) => commandName(rng, word);
    switch (op) {
      case "set": {
        const value = this.value(format);
        this.model.set(key, value);
        return { args: [name("set"), key, value], expect: reply.status("OK") };
      }
      case "get": {
        const stored = this.model.get(key);
        return { args: [name("get"), key], expect: stored === undefined ? reply.nil(format) : reply.bulk(stored, format) };
      }
      case "incr":
        return { args: [name("incr"), key], expect: this.#incr(key, format) };
      case "del": {
        const keys = Array.from({ length: rng.int(1, 4) }, () => this.key(rng.int(0, KEYS - 1)));
        let removed = 0;
        for (const k of keys) if (this.model.delete(k)) removed++;
        return { args: [name("del"), ...keys], expect: reply.integer(removed, format) };
      }
      case "ping": {
        if (rng.chance(0.5)) return { args: [name("ping")], expect: reply.status("PONG") };
        const message = rng.string(WORD.slice(0, 62), 1, 20);
        return { args: [name("ping"), message], expect: reply.bulk(Buffer.from(message), format) };
      }
      default:
        return this.#mistake(key, first);
    }
  }

  #incr(key, format) {
    const old = this.model.get(key);
    let current = 0n;
    if (old !== undefined) {
      const text = old.toString("latin1");
      if (text.length > 20 || !REDIS_INTEGER.test(text)) return reply.error("value is not an integer or out of range");
      current = BigInt(text);
      if (current < INT64_MIN || current > INT64_MAX) return reply.error("value is not an integer or out of range");
    }
    if (current === INT64_MAX) return reply.error("increment or decrement would overflow");
    this.model.set(key, Buffer.from(String(current + 1n)));
    return reply.integer(current + 1n, format);
  }

  /** A command the server must refuse, with its exact error. */
  #mistake(key, first) {
    const rng = this.rng;
    const usage = { get: "get key", set: "set key value", incr: "incr key", del: "del key [key ...]", ping: "ping [message]" };
    const wrong = (command, detail) => reply.error(`wrong number of arguments for '${command}': ${detail} (usage: ${usage[command]})`);
    const kinds = ["get-none", "get-extra", "set-short", "set-extra", "incr-none", "del-none", "ping-extra"];
    if (!first) kinds.push("unknown", "unknown");
    switch (rng.pick(kinds)) {
      case "get-none":
        return { args: ["get"], expect: wrong("get", "missing argument 'key'") };
      case "get-extra":
        return { args: ["get", key, "extra"], expect: wrong("get", "unexpected 'extra'") };
      case "set-short":
        return { args: ["set", key], expect: wrong("set", "missing argument 'value'") };
      case "set-extra":
        return { args: ["set", key, "v", "extra"], expect: wrong("set", "unexpected 'extra'") };
      case "incr-none":
        return { args: ["incr"], expect: wrong("incr", "missing argument 'key'") };
      case "del-none":
        return { args: ["del"], expect: wrong("del", "missing argument 'key'") };
      case "ping-extra":
        return { args: ["ping", "a", "b"], expect: wrong("ping", "unexpected 'b'") };
      default: {
        const unknown = `soak${rng.string("abcdefghijklmnopqrstuvwxyz", 3, 8)}`;
        return { args: [unknown, key], expect: reply.error(`unknown command '${unknown}'`) };
      }
    }
  }

  /**
   * A batch of commands as request bytes. RESP sessions sometimes send an inline command
   * (RESP connections accept them), never first: the first byte must be `*`.
   */
  batch(format, size, firstOfConnection) {
    const commands = [];
    for (let i = 0; i < size; i++) {
      const command = this.command(format, firstOfConnection && i === 0);
      const inlineSafe = (a) => typeof a === "string" || (a.length > 0 && textSafe(a) && !/[ '"]/.test(a.toString("latin1")));
      const inline = format === "resp" && !(firstOfConnection && i === 0) && this.rng.chance(0.05) && command.args.every(inlineSafe);
      command.bytes = format === "text" || inline ? textRequest(command.args) : respRequest(command.args);
      commands.push(command);
    }
    return commands;
  }
}
