/**
 * The signal of a command with a timeout: aborts on the timeout, or when the connection
 * closes. A listener on the connection's signal rather than `AbortSignal.any`, so nothing is
 * left registered on a long-lived connection once the command is done (`release`).
 */
export class CommandSignal {
  readonly #controller = new AbortController();
  readonly #connection: AbortSignal;
  readonly #onClose = () => this.#controller.abort(this.#connection.reason);

  constructor(connection: AbortSignal) {
    this.#connection = connection;
    if (connection.aborted) this.#controller.abort(connection.reason);
    else connection.addEventListener("abort", this.#onClose, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    this.#controller.abort(reason);
  }

  release(): void {
    this.#connection.removeEventListener("abort", this.#onClose);
  }
}
