import type { AnyEventObject } from "xstate";

/**
 * What leaves the process for the inspector: plain JSON data, never a socket, a Buffer's
 * bytes or a credential. Used as `createWebSocketInspector`'s `sanitizeContext` and
 * `sanitizeEvent`, so it sees every context and event before it is sent.
 *
 * Allow-list, not deny-list: primitives and plain objects and arrays are copied (bounded in
 * depth, length and string size); an actor reference becomes XState's own JSON form (its id);
 * bytes become their length; any other object (a Socket, a Map, a class instance) becomes its
 * class name. Values under credential-like keys (`auth`, `key`, and any key containing
 * `pass`, `secret`, `token`, `credential`, `apikey`, `private`) are replaced at any depth.
 */

const CREDENTIAL_KEY = /pass|secret|token|credential|api_?key|private|^auth$|^key$/i;
export const REDACTED = "[redacted]";
const MAX_DEPTH = 6;
const MAX_ITEMS = 64;
const MAX_STRING = 256;
/** Command names longer than this, or not word-like, are shown as "?": they may be a client's data. */
const COMMAND_NAME = /^[A-Za-z][\w.:|-]{0,31}$/;
const MAX_NAMES = 32;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** An XState actor reference (it serializes to `{ xstate$$type, id }`). */
function isActorRef(value: object): value is { toJSON(): unknown } {
  return "sessionId" in value && typeof (value as { send?: unknown }).send === "function" && typeof (value as { toJSON?: unknown }).toJSON === "function";
}

/** A JSON-safe copy of `value` under the rules above. */
export function toSafeValue(value: unknown, depth = 0): unknown {
  switch (typeof value) {
    case "string":
      return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
    case "number":
    case "boolean":
    case "undefined":
      return value;
    case "bigint":
    case "symbol":
      return value.toString();
    case "function":
      return `[function ${value.name || "anonymous"}]`;
  }
  if (value === null) return null;
  const object = value as object;
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) return `[${object.byteLength} bytes]`;
  if (depth >= MAX_DEPTH) return "[…]";
  if (Array.isArray(object)) {
    const copy = object.slice(0, MAX_ITEMS).map((item: unknown) => toSafeValue(item, depth + 1));
    if (object.length > MAX_ITEMS) copy.push(`… ${object.length - MAX_ITEMS} more`);
    return copy;
  }
  if (isActorRef(object)) return toSafeValue(object.toJSON(), depth + 1);
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
  if (object instanceof Error) return { name: object.name, message: toSafeValue(object.message, depth + 1) };
  if (!isPlainObject(object)) return `[${object.constructor?.name ?? "object"}]`;
  const copy: Record<string, unknown> = {};
  let count = 0;
  for (const key of Object.keys(object)) {
    if (++count > MAX_ITEMS) {
      copy["…"] = `${Object.keys(object).length - MAX_ITEMS} more keys`;
      break;
    }
    copy[key] = CREDENTIAL_KEY.test(key) ? REDACTED : toSafeValue(object[key], depth + 1);
  }
  return copy;
}

/** The name of one parsed item of a COMMANDS batch: its command word, never an argument. */
function itemName(item: unknown): string {
  if (Array.isArray(item)) {
    const word: unknown = item[0];
    const text = typeof word === "string" ? word : Buffer.isBuffer(word) && word.length <= 32 ? word.toString("latin1") : "";
    return COMMAND_NAME.test(text) ? text.toLowerCase() : "?";
  }
  if (item && typeof item === "object" && "login" in item) return "(header auth)";
  if (item && typeof item === "object" && "error" in item) return "(protocol error)";
  return "?";
}

/**
 * One network read's batch as the inspector shows it: the connection, how many commands and
 * their names. The arguments (AUTH passwords, binary values, user data) are never included.
 */
export function summarizeCommands(event: { type: "COMMANDS"; connectionId?: unknown; items: readonly unknown[] }): AnyEventObject {
  const names = event.items.slice(0, MAX_NAMES).map(itemName);
  if (event.items.length > MAX_NAMES) names.push(`… ${event.items.length - MAX_NAMES} more`);
  return {
    type: "COMMANDS",
    ...(typeof event.connectionId === "string" && { connectionId: event.connectionId }),
    count: event.items.length,
    commands: names,
  };
}

/** `sanitizeEvent` of the inspector: COMMANDS as a summary, anything else through the allow-list. */
export function sanitizeEvent(event: AnyEventObject): AnyEventObject {
  try {
    const items = (event as { items?: unknown }).items;
    if (event.type === "COMMANDS" && Array.isArray(items)) return summarizeCommands({ ...event, type: "COMMANDS", items });
    const safe = toSafeValue(event);
    return safe && typeof safe === "object" && !Array.isArray(safe) ? { ...(safe as object), type: String(event.type) } : { type: String(event.type) };
  } catch {
    // A getter that throws, say: the event's type is still worth showing.
    return { type: typeof event?.type === "string" ? event.type : "?" };
  }
}

/** `sanitizeContext` of the inspector: the context through the allow-list. */
export function sanitizeContext(context: unknown): unknown {
  try {
    return toSafeValue(context);
  } catch {
    return "[unserializable]";
  }
}
