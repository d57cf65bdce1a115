/**
 * A batch of calls sent in one write. Each result settles on its own, so one failed command
 * does not hide the others' replies: `exec()` resolves an array of `{ value }` or `{ error }`.
 */
import type { Argument } from "../protocol/encode-request.js";
import type { BufferReply, Reply } from "./reply.js";

/** Per-call options: an aborted or timed-out call rejects; its reply, when it comes, is dropped. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** Milliseconds to wait for the reply; 0 or absent waits forever. */
  timeout?: number | undefined;
}

/** One call's outcome in a pipeline. */
export type PipelineResult<T = Reply> = { value: T; error?: undefined } | { error: Error; value?: undefined };

/** One call to send: its arguments, and whether its bulk strings come back as Buffers. */
export interface Call {
  args: readonly Argument[];
  buffers: boolean;
}

/** What the pipeline needs from the client: queue calls, then send them together. */
export interface CallSink {
  sendBatch(calls: readonly Call[], options: CallOptions): Array<Promise<unknown>>;
}

export class Pipeline {
  readonly #calls: Call[] = [];
  readonly #sink: CallSink;

  constructor(sink: CallSink) {
    this.#sink = sink;
  }

  /** Number of calls queued so far. */
  get length(): number {
    return this.#calls.length;
  }

  /** Queues a call whose bulk strings come back as strings. */
  call(command: string, ...args: Argument[]): this {
    this.#calls.push({ args: [command, ...args], buffers: false });
    return this;
  }

  /** Queues a call whose bulk strings come back as Buffers. */
  callBuffer(command: string, ...args: Argument[]): this {
    this.#calls.push({ args: [command, ...args], buffers: true });
    return this;
  }

  /** Sends every queued call in one write; resolves once all have settled, in call order. */
  async exec(options: CallOptions = {}): Promise<Array<PipelineResult<Reply | BufferReply>>> {
    const promises = this.#sink.sendBatch(this.#calls.splice(0), options);
    const settled = await Promise.allSettled(promises);
    return settled.map((result) =>
      result.status === "fulfilled" ? { value: result.value as Reply } : { error: result.reason instanceof Error ? result.reason : new Error(String(result.reason)) },
    );
  }
}
