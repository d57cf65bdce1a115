/**
 * The cluster relay transport, worker side: the workers of one machine (node:cluster)
 * share pub/sub through the primary, which runs `relayPubSub(cluster)`
 * (src/pubsub/cluster-primary.ts). A worker tells the primary how many of its connections
 * listen to each channel and pattern; a publish goes to the primary, which passes it to
 * every worker that needs it, the publishing one included, and answers how many received
 * it. Counts are the primary's, so they are true for every worker of the machine.
 *
 * Every delivery, a worker's own publishes included, comes from the primary, so all
 * subscribers of the machine get the messages to a channel in the one order the primary
 * handled them (a worker delivering its own at once would show its members their own lines
 * first, and a line before it reached the primary). IPC between two processes is ordered,
 * so a publisher's own push arrives before the primary's reply to its PUBLISH.
 */
import type { Logger } from "pino";
import { RetopyError } from "../errors.js";
import type { ReplyValue } from "../reply.js";
import { fromWire, isRelayMessage, type PrimaryToWorker, toWire, type WorkerToPrimary } from "./cluster-messages.js";
import { type PubSubSink, type PubSubTransport, type SubscriptionKind, wireMessage } from "./transport.js";

/** How long `listen()` waits for the primary to answer before saying it does not relay pub/sub. */
const HELLO_TIMEOUT_MS = 5000;

interface Waiting {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class ClusterRelayTransport implements PubSubTransport {
  readonly name = "cluster";
  #sink: PubSubSink | null = null;
  #logger: Logger | null = null;
  #nextId = 1;
  readonly #waiting = new Map<number, Waiting>();
  /** What the primary has been told this worker listens to, with the local counts. */
  readonly #counts = new Map<string, number>();
  #listening = false;
  readonly #onMessage = (message: unknown) => this.#receive(message);
  readonly #onDisconnect = () => this.#failAll(new RetopyError("RETOPY_SERVER_STATE", "the cluster primary is gone: pub/sub cannot reach the other workers"));

  attach(sink: PubSubSink, logger: Logger): void {
    this.#sink = sink;
    this.#logger = logger.child({ pubsub: "cluster" });
  }

  async start(): Promise<void> {
    if (typeof process.send !== "function" || !process.connected) {
      throw new RetopyError("RETOPY_INVALID_OPTION", "the cluster pub/sub transport runs in a node:cluster worker (this process has no IPC channel to a primary)");
    }
    this.#listen();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RetopyError("RETOPY_SERVER_STATE", `the cluster primary did not answer within ${HELLO_TIMEOUT_MS} ms: call relayPubSub(cluster) in the primary`)), HELLO_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.#request({ retopy: "pubsub:hello", id: this.#id() }), timeout]);
    } catch (error) {
      this.#unlisten();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.#unlisten();
    this.#failAll(new RetopyError("RETOPY_SERVER_STATE", "the server is closed"));
    return Promise.resolve();
  }

  update(kind: SubscriptionKind, name: string, count: number): void | Promise<void> {
    const key = `${kind}:${name}`;
    const first = count > 0 && !this.#counts.has(key);
    if (count > 0) this.#counts.set(key, count);
    else this.#counts.delete(key);
    if (!this.#listening) return undefined;
    if (!first) {
      this.#send({ retopy: "pubsub:update", kind, name, count });
      return undefined;
    }
    // The first subscriber waits for the primary to know: then every later publish reaches it.
    return this.#request({ retopy: "pubsub:update", kind, name, count, id: this.#id() }).then(
      () => undefined,
      () => undefined,
    );
  }

  publish(channel: string, message: ReplyValue): number | Promise<number> {
    // Checked before any delivery: a message the relay cannot carry reaches no one.
    const payload = toWire(wireMessage(message, this.name));
    // Without a primary, this worker's own connections are all it can reach (the request then fails).
    const local = process.connected ? 0 : this.#sink!.deliver(channel, message);
    return this.#request({ retopy: "pubsub:publish", id: this.#id(), channel, ...payload }).then((receivers) => local + Number(receivers));
  }

  numsub(channels: readonly string[]): Promise<number[]> {
    return this.#request({ retopy: "pubsub:numsub", id: this.#id(), channels }) as Promise<number[]>;
  }

  numpat(): Promise<number> {
    return this.#request({ retopy: "pubsub:numpat", id: this.#id() }) as Promise<number>;
  }

  channels(pattern?: string): Promise<string[]> {
    return this.#request({ retopy: "pubsub:channels", id: this.#id(), ...(pattern !== undefined && { pattern }) }) as Promise<string[]>;
  }

  #id(): number {
    return this.#nextId++;
  }

  #listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    process.on("message", this.#onMessage);
    process.on("disconnect", this.#onDisconnect);
    // Subscriptions made before start() (by application code before listen()).
    for (const [key, count] of this.#counts) {
      const colon = key.indexOf(":");
      this.#send({ retopy: "pubsub:update", kind: key.slice(0, colon) as SubscriptionKind, name: key.slice(colon + 1), count });
    }
  }

  #unlisten(): void {
    if (!this.#listening) return;
    this.#listening = false;
    process.off("message", this.#onMessage);
    process.off("disconnect", this.#onDisconnect);
  }

  #send(message: WorkerToPrimary): boolean {
    if (!process.connected || !process.send) return false;
    process.send(message);
    return true;
  }

  #request(message: WorkerToPrimary & { id: number }): Promise<unknown> {
    if (!this.#listening) return Promise.reject(new RetopyError("RETOPY_SERVER_STATE", "the cluster pub/sub transport is not started (listen() starts it)"));
    return new Promise((resolve, reject) => {
      if (!this.#send(message)) {
        reject(new RetopyError("RETOPY_SERVER_STATE", "the cluster primary is gone: pub/sub cannot reach the other workers"));
        return;
      }
      this.#waiting.set(message.id, { resolve, reject });
    });
  }

  #receive(raw: unknown): void {
    if (!isRelayMessage(raw)) return;
    const message = raw as PrimaryToWorker;
    if (message.retopy === "pubsub:message") {
      this.#sink?.deliver(message.channel, fromWire(message));
    } else if (message.retopy === "pubsub:reply") {
      const waiting = this.#waiting.get(message.id);
      this.#waiting.delete(message.id);
      waiting?.resolve(message.value);
    }
  }

  #failAll(error: Error): void {
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
    if (this.#listening) this.#logger?.warn("the cluster primary is gone; pub/sub reaches this worker's own connections only");
  }
}
