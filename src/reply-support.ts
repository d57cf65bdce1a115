/**
 * The values a reply may hold, and the error for anything else. Supported, at any depth:
 * string, number, bigint, boolean, null, undefined, Uint8Array (Buffer), Error, `Status`,
 * `Verbatim`, arrays, Sets, Maps and plain objects (`{}` or `Object.create(null)`).
 *
 * A Status or Verbatim from another copy of retopy in the process counts as one of these.
 * Anything else (a function, a symbol, a class instance, a Date, a RegExp, a Promise, a
 * typed array other than Uint8Array, a boxed primitive) has no honest wire form: its
 * `String()` is a function's source code or `[object Object]`. The encoders throw an
 * {@link UnsupportedReplyError} instead, so the client gets `-ERR Internal Server Error`
 * (the detail with `debug: true`) and the log names the command; the runner drops any
 * half-encoded bytes (`ReplyOutput.beginReply`/`abandonReply`).
 */
import { Status, STATUS_BRAND, status, Verbatim, VERBATIM_BRAND } from "./reply.js";

/** A value a command replied with (or nested in its reply) that no protocol can encode. */
export class UnsupportedReplyError extends TypeError {
  constructor(value: unknown) {
    super(`cannot reply with ${kindOf(value)}: replies are strings, numbers, bigints, booleans, null, Buffers, Errors, status(), verbatim(), arrays, Sets, Maps and plain objects`);
    this.name = "UnsupportedReplyError";
  }
}

/** What `value` is, for the error message: never its text (a function's would be its source). */
function kindOf(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  try {
    const name: unknown = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return typeof name === "string" && /^[\w$]{1,64}$/.test(name) ? `an instance of ${name}` : "an object of an unknown class";
  } catch {
    return "an object that cannot be inspected";
  }
}

/**
 * A Status or Verbatim made by another copy of retopy, as this copy's own; else undefined.
 * The encoders ask only after `instanceof` failed, so the common path never pays for it.
 */
export function fromOtherCopy(value: object): Status | Verbatim | undefined {
  const branded = value as { [STATUS_BRAND]?: unknown; [VERBATIM_BRAND]?: unknown; text?: unknown; format?: unknown };
  if (typeof branded.text !== "string") return undefined;
  if (branded[STATUS_BRAND] === true) return status(branded.text);
  if (branded[VERBATIM_BRAND] === true) return new Verbatim(branded.text, branded.format === "mkd" ? "mkd" : "txt");
  return undefined;
}

export function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Throws an UnsupportedReplyError if `value`, or anything inside it, is not a supported
 * reply value. For values checked before they are encoded many times (a published message).
 */
export function checkReplyValue(value: unknown, depth = 0): void {
  if (depth > 512) throw new RangeError("a reply nested more than 512 levels deep (a cycle?)");
  switch (typeof value) {
    case "string":
    case "number":
    case "bigint":
    case "boolean":
    case "undefined":
      return;
    case "object":
      break;
    default:
      throw new UnsupportedReplyError(value);
  }
  if (value === null || value instanceof Uint8Array || value instanceof Status || value instanceof Verbatim || value instanceof Error) return;
  if (Array.isArray(value) || value instanceof Set) {
    for (const item of value as Iterable<unknown>) checkReplyValue(item, depth + 1);
    return;
  }
  if (value instanceof Map) {
    for (const [key, item] of value as Map<unknown, unknown>) {
      checkReplyValue(key, depth + 1);
      checkReplyValue(item, depth + 1);
    }
    return;
  }
  if (isPlainObject(value)) {
    for (const key of Object.keys(value)) checkReplyValue((value as Record<string, unknown>)[key], depth + 1);
    return;
  }
  if (fromOtherCopy(value) !== undefined) return;
  throw new UnsupportedReplyError(value);
}
