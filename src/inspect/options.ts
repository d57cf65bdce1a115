import type { InspectionEvent } from "xstate";
import { RetopyError } from "../errors.js";

/**
 * `RetopyServer`'s `inspect` option: live inspection of the server's statecharts (the
 * supervisor, every connection and the handler actor) in the Stately inspector. Off unless
 * asked for; `true` takes every default.
 */
export interface InspectOptions {
  /** Port of the inspector's page and WebSocket relay; 0 (the default) picks a free one. */
  port?: number | undefined;
  /** Address the page and relay bind (default "127.0.0.1": only this machine can watch). */
  host?: string | undefined;
  /**
   * Narrows what is sent: called with each of XState's own inspection events (`@xstate.actor`,
   * `@xstate.event`, `@xstate.snapshot`) before anything is serialized; false drops it.
   * Default: none, everything the built-in rules let through (see `commands`).
   */
  filter?: ((event: InspectionEvent) => boolean) | undefined;
  /**
   * The handler actor's per-read `COMMANDS` traffic (one event per network read, each as a
   * summary: connection id, number of commands, their names, never their arguments).
   * `false` (default): none, so the inspector shows state changes; `true`: every one; a
   * number: at most that many a second.
   */
  commands?: boolean | number | undefined;
  /**
   * What is kept for viewers that are not there (default 200): the relay keeps this many
   * recent messages, plus the announcement and latest snapshot of at most this many live
   * actors, and sends them to each viewer that connects. Nothing else is queued for nobody.
   */
  maxDeferredEvents?: number | undefined;
}

/** `InspectOptions` with every default filled in. */
export interface ResolvedInspectOptions {
  readonly port: number;
  readonly host: string;
  readonly filter: ((event: InspectionEvent) => boolean) | null;
  /** COMMANDS events let through per second: 0 = none, Infinity = all. */
  readonly commandsPerSecond: number;
  readonly maxDeferredEvents: number;
}

export const INSPECT_DEFAULTS = Object.freeze({ port: 0, host: "127.0.0.1", maxDeferredEvents: 200 });

function invalid(message: string): never {
  throw new RetopyError("RETOPY_INVALID_OPTION", `inspect: ${message}`);
}

/** Checks the option at construction, so a typo fails before anything listens; null = off. */
export function resolveInspectOptions(option: boolean | InspectOptions | undefined): ResolvedInspectOptions | null {
  if (option === undefined || option === false) return null;
  if (option !== true && (typeof option !== "object" || option === null)) invalid("must be true, false or an options object");
  const given: InspectOptions = option === true ? {} : option;
  const port = given.port ?? INSPECT_DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) invalid(`port must be an integer from 0 to 65535, not ${String(port)}`);
  const host = given.host ?? INSPECT_DEFAULTS.host;
  if (typeof host !== "string" || host === "") invalid("host must be a non-empty string");
  if (given.filter !== undefined && typeof given.filter !== "function") invalid("filter must be a function");
  const commands = given.commands ?? false;
  const commandsPerSecond = commands === true ? Infinity : commands === false ? 0 : commands;
  if (typeof commandsPerSecond !== "number" || Number.isNaN(commandsPerSecond) || commandsPerSecond < 0) {
    invalid("commands must be a boolean or a non-negative number (per second)");
  }
  const maxDeferredEvents = given.maxDeferredEvents ?? INSPECT_DEFAULTS.maxDeferredEvents;
  if (!Number.isInteger(maxDeferredEvents) || maxDeferredEvents < 1) invalid("maxDeferredEvents must be a positive integer");
  return { port, host, filter: given.filter ?? null, commandsPerSecond, maxDeferredEvents };
}
