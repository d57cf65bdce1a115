import type { Logger } from "pino";
import type { InspectionEvent } from "xstate";
import type { InspectorBridge } from "./bridge.js";
import { importOptional } from "../optional-peer.js";
import { InspectionFilter } from "./filter.js";
import { type InspectOptions, type ResolvedInspectOptions, resolveInspectOptions } from "./options.js";

/**
 * Events held before the bridge is up, and by the client while its socket to the bridge
 * opens: the supervisor's and handler's start, a few dozen at most (nothing else can happen
 * before `listen()`), so this bound only matters if something goes badly wrong.
 */
const STARTUP_QUEUE = 1000;

/** What this class uses of `createWebSocketInspector`'s result. */
interface StatelyClient {
  readonly inspect: { next?: (event: InspectionEvent) => void };
  readonly adapter: unknown;
  stop(): void;
}

/**
 * The server's live inspection: the `inspect` observer its supervisor actor is created with
 * (so it sees the supervisor, every connection actor and the handler actor, which share its
 * actor system), the bridge viewers connect to, and `@statelyai/inspect`'s WebSocket client
 * between them.
 *
 * The observer is needed when the supervisor is created, in the server's synchronous
 * constructor, but `@statelyai/inspect` and `ws` are loaded with `import()` only when
 * inspection is on, in `start()` (which `listen()` awaits). What the actors report before
 * that (their announcements) waits here.
 */
export class LiveInspector {
  readonly options: ResolvedInspectOptions;
  readonly #logger: Logger;
  readonly #filter: InspectionFilter;
  /** Events observed before the client exists (the supervisor's and handler's start). */
  #early: InspectionEvent[] = [];
  #client: StatelyClient | null = null;
  #bridge: InspectorBridge | null = null;
  #starting: Promise<void> | null = null;
  #closing: Promise<void> | null = null;
  #warned = false;

  /** The inspector for a server's `inspect` option, or null when it is off (validated either way). */
  static fromOption(option: boolean | InspectOptions | undefined, logger: Logger): LiveInspector | null {
    const options = resolveInspectOptions(option);
    return options && new LiveInspector(options, logger);
  }

  constructor(options: ResolvedInspectOptions, logger: Logger) {
    this.options = options;
    this.#logger = logger;
    this.#filter = new InspectionFilter(options);
  }

  /**
   * XState's inspection observer. It runs inside every actor's transition, so it must never
   * throw (a throw would fail the transition) and must stay cheap for what it drops.
   */
  readonly observe = (event: InspectionEvent): void => {
    if (this.#closing) return;
    try {
      if (!this.#filter.accepts(event)) return;
    } catch (error) {
      if (!this.#warned) this.#logger.warn({ err: error }, "inspect filter threw; the event was not sent");
      this.#warned = true;
      return;
    }
    if (this.#client) this.#client.inspect.next?.(event);
    else if (this.#early.push(event) > STARTUP_QUEUE) this.#early.shift();
  };

  /** The page to open, once `start()` has resolved; null before and after. */
  get url(): string | null {
    return this.#closing ? null : (this.#bridge?.url ?? null);
  }

  get started(): boolean {
    return this.#bridge !== null;
  }

  /** The bridge, for tests and monitoring; null before `start()` resolves. */
  get bridge(): InspectorBridge | null {
    return this.#bridge;
  }

  /** Loads the inspector, starts the bridge and connects to it. Once; a failed start may be retried. */
  start(): Promise<void> {
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = null;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    const [{ startInspectorBridge }, { createWebSocketInspector }, { sanitizeContext, sanitizeEvent }] = await importOptional(
      "the inspect option",
      ["@statelyai/inspect", "ws"],
      () => Promise.all([import("./bridge.js"), import("@statelyai/inspect"), import("./sanitize.js")]),
    );
    if (this.#closing) return;
    const { host, port, maxDeferredEvents } = this.options;
    const bridge = await startInspectorBridge({ host, port, replay: maxDeferredEvents, logger: this.#logger });
    if (this.#closing) return bridge.close();
    this.#bridge = bridge;
    const client: StatelyClient = createWebSocketInspector({
      url: bridge.sourceUrl,
      maxDeferredEvents: STARTUP_QUEUE,
      sanitizeContext: sanitizeContext as (context: unknown) => never,
      sanitizeEvent,
    });
    this.#client = client;
    for (const event of this.#early.splice(0)) client.inspect.next?.(event);
    this.#logger.info({ url: bridge.url, host: bridge.address.address, port: bridge.address.port }, "inspector listening");
  }

  /** Sends what is still in flight, then stops the client and the bridge. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#early = [];
    await this.#starting?.catch(() => undefined);
    const client = this.#client;
    this.#client = null;
    if (client) {
      // The client converts each event on a 0 ms timer: a later one runs after them all.
      await new Promise((resolve) => setTimeout(resolve, 0));
      // Its socket retries every 5 s after an error, forever: closing must not be one.
      const ws = (client.adapter as { ws?: { onerror: unknown } }).ws;
      if (ws) ws.onerror = () => undefined;
      client.stop();
    }
    await this.#bridge?.close();
  }
}
