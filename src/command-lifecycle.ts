/**
 * One command's life on its fresh handler, in one place, as Tornado's `_execute`:
 *
 *   initialize(options) → prepare() → the command → automatic finish → onFinish()
 *
 * Each step may be sync or return a promise. When every step is sync, so is the whole: the
 * outcome comes back at once and no promise is made (the common case, and the fast path of
 * a pipeline). Hooks a handler class does not override are not called at all.
 *
 * Whatever a step throws or rejects with becomes the outcome: never an exception out of
 * here, so the runner always has exactly one reply to write.
 */
import { type CommandDefinition, type CommandHandler, FINISHED } from "./handler.js";

/**
 * What a command failed with. A success is its value itself, so the common case (a sync
 * command that returns) allocates nothing for its outcome; no command can return a `Failure`
 * (the class is not exported from the package).
 */
export class Failure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

/** What a command ended with: the value it returned, or a `Failure`. */
export type Outcome = unknown;

/** Bounds the async part of a command (its timeout): settles with the command's outcome or the timeout's. */
export type Limit = (work: Promise<unknown>) => Promise<Outcome>;

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as PromiseLike<unknown>).then === "function";
}

const failedWith = (error: unknown): Failure => new Failure(error);

/** Whether the client is gone: an async prepare does not start a command nobody will read. */
export interface RunState {
  readonly stopped: boolean;
}

/**
 * Runs `definition`'s command on `handler`; `limit`, when given, bounds the command if it
 * goes async. Returns its outcome, or a promise of it once a step went async.
 */
export function execute(definition: CommandDefinition, handler: CommandHandler, state: RunState, limit?: Limit): Outcome | Promise<Outcome> {
  const hooks = definition.hooks;
  let ran: unknown;
  try {
    // The fast path, straight through: no initialize or prepare to run first.
    ran = hooks.initialize || hooks.prepare ? run(definition, handler, state) : definition.invoke(handler);
    if (isThenable(ran)) {
      const work = Promise.resolve(ran);
      return (limit ? limit(work) : work.then(undefined, failedWith)).then((outcome) => finish(definition, handler, outcome));
    }
  } catch (error) {
    return finish(definition, handler, new Failure(error));
  }
  if (hooks.onFinish) return finish(definition, handler, ran);
  handler[FINISHED] = true;
  return ran;
}

/** initialize, prepare and the command: their value, or a promise of it once one went async. */
function run(definition: CommandDefinition, handler: CommandHandler, state: RunState): unknown {
  const initialized: unknown = definition.hooks.initialize ? handler.initialize(definition.initializeOptions) : undefined;
  if (isThenable(initialized)) return Promise.resolve(initialized).then(() => prepareAndInvoke(definition, handler, state));
  return prepareAndInvoke(definition, handler, state);
}

function prepareAndInvoke(definition: CommandDefinition, handler: CommandHandler, state: RunState): unknown {
  const prepared: unknown = definition.hooks.prepare ? handler.prepare() : undefined;
  if (!isThenable(prepared)) return definition.invoke(handler);
  return Promise.resolve(prepared).then(() => (state.stopped ? undefined : definition.invoke(handler)));
}

/**
 * The automatic finish: no more writes, then `onFinish`. A failing onFinish turns a success
 * into its error; a command that already failed keeps its own error.
 */
function finish(definition: CommandDefinition, handler: CommandHandler, outcome: Outcome): Outcome | Promise<Outcome> {
  handler[FINISHED] = true;
  if (!definition.hooks.onFinish) return outcome;
  let finished: unknown;
  try {
    finished = handler.onFinish();
  } catch (error) {
    return outcome instanceof Failure ? outcome : new Failure(error);
  }
  if (!isThenable(finished)) return outcome;
  return Promise.resolve(finished).then(
    () => outcome,
    (error: unknown) => (outcome instanceof Failure ? outcome : new Failure(error)),
  );
}
