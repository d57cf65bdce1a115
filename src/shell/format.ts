/**
 * Replies printed the way redis-cli prints them, so its users read them at a glance:
 * `(integer) 1`, `"text"`, `(nil)`, numbered lists (nested ones indented under their
 * number), maps as `1) key => value`, `(error) CODE message`.
 */
import type { Reply } from "../client/index.js";
import { ReplyError } from "../client/index.js";

/** The error line of an error reply, as redis-cli shows it. */
export function formatError(error: ReplyError): string {
  return error.message ? `(error) ${error.code} ${error.message}` : `(error) ${error.code}`;
}

/** `text` in double quotes, with quotes, backslashes and control characters escaped. */
export function quote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (char === "\x07") out += "\\a";
    else if (char === "\b") out += "\\b";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += char;
  }
  return `${out}"`;
}

/** A list of already formatted entries, numbered, continuation lines indented under the number. */
function numbered(entries: string[]): string {
  const width = String(entries.length).length;
  return entries
    .map((entry, index) => {
      const prefix = `${String(index + 1).padStart(width)}) `;
      const pad = " ".repeat(prefix.length);
      return entry
        .split("\n")
        .map((line, i) => (i === 0 ? prefix : pad) + line)
        .join("\n");
    })
    .join("\n");
}

/** The text of `reply`, one or more lines without a trailing newline. */
export function formatReply(reply: Reply): string {
  if (reply === null) return "(nil)";
  if (typeof reply === "string") return quote(reply);
  if (typeof reply === "bigint") return `(integer) ${reply}`;
  if (typeof reply === "number") return Number.isInteger(reply) ? `(integer) ${reply}` : `(double) ${reply}`;
  if (typeof reply === "boolean") return reply ? "(true)" : "(false)";
  if (reply instanceof ReplyError) return formatError(reply);
  if (Array.isArray(reply)) return reply.length === 0 ? "(empty array)" : numbered(reply.map(formatReply));
  if (reply instanceof Set) return reply.size === 0 ? "(empty set)" : numbered([...reply].map(formatReply));
  if (reply.size === 0) return "(empty hash)";
  return numbered([...reply].map(([key, value]) => {
    const text = formatReply(value);
    // A nested value starts on the key's line and keeps its own indentation below it.
    const head = `${formatReply(key)} => `;
    return text.includes("\n") ? `${head}\n${text.replace(/^/gm, "   ")}` : head + text;
  }));
}

/** A push (pub/sub message and the like), printed as an array, as redis-cli does. */
export function formatPush(values: Reply[]): string {
  return formatReply(values);
}

/**
 * `help` answers lines of text; printing them numbered and quoted would hide the text, so
 * a reply that is a list of strings prints one raw line each.
 */
export function formatHelp(reply: Reply): string {
  if (Array.isArray(reply) && reply.every((line) => typeof line === "string")) return reply.join("\n");
  return formatReply(reply);
}
