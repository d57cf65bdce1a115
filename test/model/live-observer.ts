/**
 * The server's own view of its connections, for the model tests: every transition its
 * connection actors take (XState's inspection API on the server's actor system), every
 * batch of commands its handler actor receives, and the close reason each connection logs.
 * Nothing is mocked: this listens to the real server while real clients talk to it.
 */
import { Writable } from "node:stream";
import type { InspectionEvent, Subscription } from "xstate";
import { HANDLER_SYSTEM_ID } from "../../machines/handler-event.js";
import type { RetopyServer } from "../../src/index.js";
import { transitionKey } from "./connection-model.js";

interface ConnectionRecord {
  /** Keys of the transitions taken, in order. */
  readonly transitions: string[];
  /** The state value after each of them (same index). */
  readonly values: unknown[];
  /** State value and status after the last microstep. */
  value: unknown;
  status: string;
  /** COMMANDS batches the handler actor received for this connection. */
  batches: number;
}

type AnyTransition = Parameters<typeof transitionKey>[0];

interface ConnectionSnapshotLike {
  readonly value: unknown;
  readonly status: string;
  readonly context?: { readonly id?: unknown };
  readonly machine?: { readonly id?: string };
}

export class LiveObserver {
  readonly #records = new Map<string, ConnectionRecord>();
  #subscription: Subscription | null = null;

  /** Starts listening to `server`'s actor system (its supervisor's, shared by every connection). */
  watch(server: RetopyServer): void {
    const system = server.supervisor.system;
    this.#subscription = system.inspect((event: InspectionEvent) => {
      if (event.type === "@xstate.microstep") {
        const snapshot = event.snapshot as unknown as ConnectionSnapshotLike;
        const id = snapshot.context?.id;
        if (snapshot.machine?.id !== "connection" || typeof id !== "string") return;
        const record = this.#record(id);
        for (const t of event._transitions) {
          record.transitions.push(transitionKey(t as unknown as AnyTransition));
          record.values.push(snapshot.value);
        }
        record.value = snapshot.value;
        record.status = snapshot.status;
      } else if (event.type === "@xstate.event" && event.event.type === "COMMANDS") {
        const connectionId = (event.event as { connectionId?: unknown }).connectionId;
        if (typeof connectionId === "string" && event.actorRef === system.get(HANDLER_SYSTEM_ID)) this.#record(connectionId).batches++;
      }
    });
  }

  stop(): void {
    this.#subscription?.unsubscribe();
    this.#subscription = null;
  }

  /** What the server's connection actor `id` has done so far (an empty record before its first step). */
  of(id: string): Readonly<ConnectionRecord> {
    return this.#record(id);
  }

  #record(id: string): ConnectionRecord {
    let record = this.#records.get(id);
    if (!record) {
      record = { transitions: [], values: [], value: undefined, status: "active", batches: 0 };
      this.#records.set(id, record);
    }
    return record;
  }
}

/** A pino destination that keeps each connection's logged close reason. */
export class CloseReasonLog extends Writable {
  readonly reasons = new Map<string, string>();

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line.includes('"connection closed"')) continue;
      const record = JSON.parse(line) as { connection?: string; reason?: string };
      if (record.connection && record.reason) this.reasons.set(record.connection, record.reason);
    }
    done();
  }
}
