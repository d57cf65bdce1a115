/**
 * The default transport: every subscriber is a connection of this server, so a publish is
 * delivered at once, synchronously, and every count is the registry's own.
 */
import type { Logger } from "pino";
import { RetopyError } from "../errors.js";
import type { ReplyValue } from "../reply.js";
import type { PubSubSink, PubSubTransport } from "./transport.js";

export class InProcessTransport implements PubSubTransport {
  readonly name = "in-process";
  #sink: PubSubSink | null = null;

  attach(sink: PubSubSink, _logger: Logger): void {
    if (this.#sink) throw new RetopyError("RETOPY_INVALID_OPTION", "a pub/sub transport serves one server only");
    this.#sink = sink;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  update(): void {}

  publish(channel: string, message: ReplyValue): number {
    return this.#sink!.deliver(channel, message);
  }

  numsub(channels: readonly string[]): number[] {
    return channels.map((channel) => this.#sink!.subscriberCount(channel));
  }

  numpat(): number {
    return this.#sink!.patternCount();
  }

  channels(pattern?: string): string[] {
    return this.#sink!.channels(pattern);
  }
}
