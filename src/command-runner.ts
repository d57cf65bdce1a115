import { isCommand, type ParsedItem } from "./protocol/wire.js";
import type { RawArgument } from "./command-spec.js";
import type { QuitReason } from "../machines/connection.machine.js";
import { bindArguments } from "./command-spec.js";
import { performLogin } from "./auth.js";
import { redisFailureReply } from "./redis-connection.js";
import { CommandError, CommandTimeoutError, InvalidArgumentError, MissingArgumentError, refuse } from "./errors.js";
import { type CommandDefinition, type CommandHandler, type CommandTable, REPLIES, type ServerInfo, SKIP_REPLY } from "./handler.js";
import type { ConnectionInfo } from "./connection-info.js";
import { type OutputChunk, ReplyOutput } from "./protocol/reply-output.js";
import { type ErrorReply, type ReplyEncoder, type ReplyValue, status } from "./reply.js";
import type { StatsBuffer } from "./stats.js";
import { echoed } from "./client-text.js";
import { LazyCommandContext, runInCommandContext, tracksCommands } from "./command-context.js";
import { CommandSignal } from "./command-signal.js";
import { execute, Failure, isThenable, type Outcome } from "./command-lifecycle.js";
import { ERROR_CODE, WireErrors } from "./protocol/wire-errors.js";
import { PROTOCOLS } from "./protocol/protocols.js";
import { type CommandOutcome, commandClock } from "./command-stats.js";
import { CommandCall, type HookName, type HookSet, runHooks } from "./hooks.js";
import { performance } from "node:perf_hooks";

/** What the runner needs from the connection it serves. */
export interface RunnerHost {
  readonly application: CommandTable;
  readonly connection: ConnectionInfo;
  readonly server: ServerInfo;
  readonly stats: StatsBuffer;
  readonly encoder: ReplyEncoder;
  /** Asks the connection's statechart whether `@authenticated` commands may run now. */
  isAuthenticated(): boolean;
  /** Milliseconds an async command may run; 0 = no limit (a command's own `timeout` wins). */
  readonly commandTimeout: number;
  /** Writes encoded replies to the client. */
  send(output: OutputChunk | OutputChunk[]): void;
  /** While the application's onConnect hooks run: commands wait for it. Else null. */
  readonly opening: Promise<void> | null;
  /** True once nothing queued may run any more: the connection closes after the running command's reply. */
  readonly closeRequested: boolean;
  /** Closes after the running command's reply; what is queued behind it is dropped. */
  requestClose(reason: QuitReason): void;
  /**
   * While the client is not reading its replies (unsent output above the high-water
   * mark): a promise that settles once it has caught up, or the connection closed. Else null.
   */
  outputBlocked(): Promise<void> | null;
  /**
   * The queue ran dry: every command received so far has replied. A closing connection
   * closes now; `app.inject()` waits on it.
   */
  idle(): void;
}

const INTERNAL_ERROR = WireErrors.internal;

/** The message of a thrown value, for `debug` replies; never throws itself. */
function describeThrown(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return "a thrown value that has no string form";
  }
}
/**
 * Replies gathered past this size are written before the next command runs, so one read's
 * pipeline of large replies never sits whole in memory; small pipelines still leave in one write.
 */
const FLUSH_BYTES = 64 * 1024;
/** What a command that wrote nothing replies: the status `+OK` (a string would be a RESP bulk string). */
const OK = status("OK");

/**
 * The handler actor's engine: runs one connection's commands strictly in order and
 * writes their replies in that order, whether each command is sync or async.
 *
 * Sync commands run back to back and their replies are joined into one socket write per
 * batch. An async command suspends the queue; commands behind it wait, so replies can never
 * overtake each other. Every failure (a throw in `initialize`, `prepare`, the command,
 * `onFinish` or a converter, sync or async) becomes that command's error reply and never
 * escapes into the actor system, where it would kill the connection's actor.
 */
export class CommandRunner {
  readonly #host: RunnerHost;
  #queue: readonly ParsedItem[] = [];
  #head = 0;
  #draining = false;
  /** True while the queue waits for an async command: pushes are not batched then. */
  #waiting = false;
  #blockedOnOutput = false;
  #stopped = false;
  /**
   * True from the moment a command starts until its one reply is encoded. Whatever path a
   * command leaves by (a throw of ours, a rejection, an encoder that fails), a reply still
   * owed then is the internal error: the client's later replies never shift.
   */
  #owed = false;
  #output = new ReplyOutput();
  /** Batches sent towards this queue (`expect()`) that `enqueue()` has not received yet. */
  #expected = 0;
  /** The start of a command that went async (`commandClock` holds a running sync command's). */
  #started = 0;
  /** The running command's hook context; null unless the application has command hooks. */
  #call: CommandCall | null = null;

  constructor(host: RunnerHost) {
    this.#host = host;
  }

  /**
   * Queues an out-of-band message (pub/sub). Replies are encoded whole, so a push joins the
   * output between two replies, after every reply already encoded: it never lands inside a
   * reply and never overtakes the reply of a command that finished before it.
   *
   * - Idle, or waiting for an async command: written at once (the output holds only whole
   *   replies then), so a subscriber running a slow command still gets its messages.
   * - During a synchronous batch: the push can only come from the command that is running
   *   on this connection (SUBSCRIBE, or PUBLISH to a channel it listens to); it leaves with
   *   the batch, before that command's reply, as in Redis.
   */
  push(values: readonly ReplyValue[]): void {
    if (this.#stopped) return;
    // An encoder writes as it goes: a value that fails halfway must not leave half a frame
    // in the output, where it would corrupt every reply after it. The caller gets the error.
    this.#output.beginReply();
    try {
      this.#host.encoder.encodePush(values, this.#output);
    } catch (error) {
      this.#output.abandonReply();
      throw error;
    }
    if (!this.#draining || this.#waiting) this.#flush();
  }

  /** True while commands are queued or running. */
  get busy(): boolean {
    return this.#draining;
  }

  /**
   * A batch is on its way to `enqueue()` (through the handler actor's mailbox, which may
   * hold it for a moment): until it arrives, the queue is not idle.
   */
  expect(): void {
    this.#expected++;
  }

  /** True when nothing is queued, running or on its way: the queue holds nothing worth keeping. */
  get idle(): boolean {
    return !this.#draining && this.#expected === 0;
  }

  /** True while the queue only waits for the client to read what it was already sent. */
  get waitingOnOutput(): boolean {
    return this.#blockedOnOutput;
  }

  /** Commands received and not replied to yet: the one running (if its reply is owed) and those queued. */
  get pending(): number {
    return this.#draining ? this.#queue.length - this.#head + (this.#owed ? 1 : 0) : 0;
  }

  /**
   * Queues a read's batch and, unless commands are already running, runs it at once. The
   * connection sends batches from its socket handler, never from inside the connection
   * actor, so a login made by one command reaches the actor (and changes what the next
   * command may do) before the next command runs.
   */
  enqueue(items: readonly ParsedItem[]): void {
    if (this.#expected > 0) this.#expected--;
    if (this.#stopped) return;
    if (this.#draining) {
      // Only while an async command holds the queue; the batch itself is never mutated.
      this.#queue = this.#queue.slice(this.#head).concat(items);
      this.#head = 0;
      return;
    }
    this.#draining = true;
    this.#queue = items;
    // A fresh output per batch: it stays in V8's young generation, so appending each reply
    // skips the write barrier that storing into a long-lived object pays (measured with perf).
    if (this.#output.empty) this.#output = new ReplyOutput();
    const opening = this.#host.opening;
    if (opening !== null) {
      // onConnect hooks still run: the first commands wait for them (and a refusal closes first).
      this.#waiting = true;
      void opening.then(() => {
        this.#waiting = false;
        this.#drain();
      });
      return;
    }
    this.#drain();
  }

  /** Called when the connection closes: nothing more is run or written. */
  stop(): void {
    this.#stopped = true;
    this.#queue = [];
    this.#head = 0;
  }

  #drain(): void {
    // The batch's first command starts now; each reply recorded starts the next (src/command-stats.ts).
    commandClock[0] = performance.now();
    // Checked before each command, so a close requested by an async command (a login lockout,
    // an async quit) drops what was queued behind it, as after a sync one.
    while (!this.#stopped && !this.#host.closeRequested && this.#head < this.#queue.length) {
      const item = this.#queue[this.#head++]!;
      let pending: Promise<void> | void;
      try {
        pending = tracksCommands() ? this.#runTracked(item) : this.#runItem(item);
      } catch (error) {
        // #runItem turns every failure of the command into its reply; this is the guard
        // against a bug of our own, which must cost one reply, never the connection's queue.
        this.#runnerFailed(error);
        continue;
      }
      if (pending) {
        // Other connections' commands use the shared clock while this one waits.
        this.#started = commandClock[0]!;
        this.#flush();
        this.#waiting = true;
        // `pending` settles through #finish/#complete, which catch everything; the rejection
        // branch is a last guard so a bug there can never stall the queue silently.
        pending.then(
          () => {
            this.#waiting = false;
            this.#drain();
          },
          (error: unknown) => {
            this.#waiting = false;
            this.#runnerFailed(error);
            this.#drain();
          },
        );
        return;
      }
      if (this.#output.size >= FLUSH_BYTES && this.#flushAndWait()) return;
    }
    this.#queue = [];
    this.#head = 0;
    this.#draining = false;
    this.#flush();
    if (this.#stopped) return;
    this.#host.idle();
  }

  /**
   * Writes what is gathered; if the client is not keeping up, suspends the queue until it
   * does and returns true. A pipeline whose replies are far larger than its requests (GET of
   * big values) then holds at most about a high-water mark of output, however long it is.
   */
  #flushAndWait(): boolean {
    this.#flush();
    const blocked = this.#host.outputBlocked();
    if (blocked === null) return false;
    this.#waiting = true;
    this.#blockedOnOutput = true;
    void blocked.then(() => {
      this.#waiting = false;
      this.#blockedOnOutput = false;
      this.#drain();
    });
    return true;
  }

  #flush(): void {
    if (this.#output.empty || this.#stopped) return;
    this.#host.send(this.#output.take());
  }

  #replyError(error: ErrorReply): void {
    this.#host.encoder.encodeError(error, this.#output);
    this.#owed = false;
  }

  /** A bug of ours escaped a command's path: log what can be logged, and pay the reply it owes. */
  #runnerFailed(error: unknown): void {
    try {
      this.#host.connection.logger.error({ err: error }, "command runner failed");
    } catch {
      this.#host.connection.logger.error("command runner failed with a value that cannot be logged");
    }
    if (this.#owed && !this.#stopped) this.#replyError(INTERNAL_ERROR);
    this.#owed = false;
  }

  /** #runItem inside the command's context, so a fault it leaves behind names it (`src/process-faults.ts`). */
  #runTracked(item: ParsedItem): Promise<void> | void {
    const first = isCommand(item) ? (item[0] ?? "") : "(login)";
    // A Buffer name (long or not ASCII) is decoded now: the context may outlive the read.
    const name = typeof first === "string" ? first : echoed(first.toString("utf8"));
    const context = new LazyCommandContext(this.#host.connection.id, name);
    return runInCommandContext(context, () => this.#runItem(item));
  }

  /** Runs one parsed item; returns a promise only when it went async. */
  #runItem(item: ParsedItem): Promise<void> | void {
    if (!isCommand(item)) {
      if ("login" in item) return this.#login(item.login.user, item.login.password);
      this.#replyError(WireErrors.decoderItem(item.error));
      this.#host.stats.countError();
      if (item.close) this.#host.requestClose("protocol_error");
      commandClock[0] = performance.now(); // not the next command's time
      return;
    }
    this.#owed = true;
    const argv = item;
    const first = argv[0] ?? "";
    const name = typeof first === "string" ? first : first.toString("utf8");
    const application = this.#host.application;
    const definition = application.lookup(name);
    if (!definition) {
      this.#replyError(WireErrors.unknownCommand(name));
      this.#host.stats.countError();
      commandClock[0] = performance.now(); // not the next command's time
      return;
    }
    // The one check hooks cost a command when the application has none.
    if (application.hooks.command) this.#call = new CommandCall(definition.name, argv, this.#host.connection);
    if (definition.authenticated && !this.#host.isAuthenticated()) {
      // Each protocol words it for its clients: NOAUTH for Redis clients, the original
      // retopy wording for telnet users.
      const refusal = refuse(PROTOCOLS[this.#host.connection.protocol].loginRequired);
      return this.#complete(definition, null, new Failure(refusal), true);
    }
    const before = this.#call !== null ? application.hooks.preCommand : null;
    if (before !== null) return this.#beforeCommand(definition, argv, before, this.#call!);
    return this.#start(definition, argv);
  }

  /** The preCommand hooks, in order; a throw refuses the command (its reply, counted as rejected). */
  #beforeCommand(definition: CommandDefinition, argv: readonly RawArgument[], hooks: NonNullable<HookSet["preCommand"]>, call: CommandCall): Promise<void> | void {
    let pending: Promise<void> | void;
    try {
      pending = runHooks(hooks, (hook) => hook(call));
    } catch (error) {
      return this.#refusedByHook(definition, error);
    }
    if (!pending) return this.#start(definition, argv);
    return pending.then(
      // A client gone while the hooks ran: its command is not started, as after an async prepare.
      () => (this.#stopped ? this.#dropUnstarted() : this.#start(definition, argv)),
      (error: unknown) => this.#refusedByHook(definition, error),
    );
  }

  /** The client left before its command could start: nothing runs, is counted or is owed. */
  #dropUnstarted(): void {
    this.#owed = false;
    this.#call = null;
  }

  #refusedByHook(definition: CommandDefinition, error: unknown): Promise<void> | void {
    // A CommandError is the hook's answer (a rate limit); anything else is a bug, and reported.
    // `instanceof` may throw (a Proxy): that value is no CommandError, and still the command's refusal.
    let answer = false;
    try {
      answer = error instanceof CommandError;
    } catch {
      answer = false;
    }
    if (!answer) this.#hookFailed("preCommand", definition.name, error);
    return this.#complete(definition, null, new Failure(error), true);
  }

  /** Runs a command that may run: binds its arguments, makes its handler, executes it. */
  #start(definition: CommandDefinition, argv: readonly RawArgument[]): Promise<void> | void {
    const timeout = definition.timeout ?? this.#host.commandTimeout;
    // Only a command with a timeout pays for a signal of its own.
    const timer = timeout > 0 ? new CommandSignal(this.#host.connection.signal) : null;
    let handler: CommandHandler;
    let values: ReturnType<typeof bindArguments>;
    try {
      values = bindArguments(definition.name, definition.params, argv);
    } catch (error) {
      // Arguments it does not take: refused before it ran, as Redis counts a wrong arity.
      timer?.release();
      return this.#complete(definition, null, new Failure(error), true);
    }
    try {
      const host = this.#host;
      handler = new definition.handlerClass({
        application: host.application,
        connection: host.connection,
        server: host.server,
        definition,
        argv,
        values,
        signal: timer?.signal,
      });
    } catch (error) {
      // A constructor that throws: the command never started, so no onFinish.
      timer?.release();
      return this.#complete(definition, null, new Failure(error), false);
    }
    const outcome = execute(definition, handler, this, timer ? (work) => this.#limit(definition, work, timeout, timer) : undefined);
    if (!isThenable(outcome)) {
      timer?.release();
      return this.#complete(definition, handler, outcome, false);
    }
    // A promise of ours (execute never hands back a command's own thenable unsettled).
    return (outcome as Promise<Outcome>).then((settled) => {
      timer?.release();
      return this.#complete(definition, handler, settled, false);
    });
  }

  /** Read by execute(): a command whose async prepare ends after the close is not started. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /**
   * An async command with a timeout: whichever comes first, its outcome or the timeout, is
   * its one reply. On the timeout its signal aborts and what it does later is dropped (a late
   * `write()` throws inside it, as after any finish), so later replies never wait or shift.
   */
  #limit(definition: CommandDefinition, work: Promise<unknown>, timeout: number, timer: CommandSignal): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      const settle = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(clock);
        timer.release();
        resolve(outcome);
      };
      const clock = setTimeout(() => {
        const error = new CommandTimeoutError(definition.name, timeout);
        this.#host.connection.logger.warn({ command: definition.name, timeout }, "command timed out");
        timer.abort(error);
        settle(new Failure(error));
      }, timeout);
      work.then(settle, (error: unknown) => settle(new Failure(error)));
    });
  }

  /**
   * A header `auth=user:password` token: checked on the guarded login path (`src/auth.ts`)
   * before the commands behind it run, so a refusal's delay holds them back too. Success is
   * silent (the header gets no reply); a refusal is a WRONGPASS error line.
   */
  #login(user: string, password: string): Promise<void> {
    const connection = this.#host.connection;
    return performLogin(this.#host.application.settings, connection, user, password).then((outcome) => {
      if (outcome.ok || this.#stopped) return;
      this.#replyError(WireErrors.wrongPass);
      this.#host.stats.countError();
    });
  }

  /**
   * Encodes the command's reply (or its error) in queue order and counts it. The reply is
   * what the command wrote, then the value it returned; `+OK` when it gave neither.
   */
  #complete(definition: CommandDefinition, handler: CommandHandler | null, outcome: Outcome, rejected: boolean): Promise<void> | void {
    let failure = outcome instanceof Failure ? outcome : null;
    if (this.#stopped) {
      this.#owed = false; // the client is gone: drop the reply, write nothing
    } else {
      // Encoders write as they go: a value that fails halfway (a toString that throws) must
      // not leave half a reply, which would shift every later reply by one.
      this.#output.beginReply();
      try {
        this.#encodeOutcome(definition, handler, outcome);
      } catch (error) {
        failure = new Failure(error);
        this.#output.abandonReply();
        try {
          this.#replyError(this.#errorReply(definition, error));
        } catch {
          this.#output.abandonReply();
          this.#replyError(INTERNAL_ERROR); // a constant: encoding it cannot fail
        }
      }
      this.#owed = false;
    }
    // From the end of the previous reply (or the batch's start) to this reply encoded (or
    // dropped): what the client waited, minus its queue. `#waiting` is only ever true here
    // for a command that went async.
    if (this.#waiting) commandClock[0] = this.#started;
    const started = commandClock[0]!;
    const result: CommandOutcome = rejected ? "rejected" : failure === null ? "ok" : "error";
    this.#host.stats.countCommand(definition, result);
    const call = this.#call;
    if (call === null) return;
    this.#call = null;
    call.outcome = result;
    call.error = failure?.error;
    call.durationMs = commandClock[0]! - started; // countCommand moved the clock to the reply
    return this.#afterCommand(call);
  }

  /**
   * onError (a failed command) then onResponse, in order. The reply is already encoded: a
   * hook that throws is logged and reported to onError, never the client's business.
   */
  #afterCommand(call: CommandCall): Promise<void> | void {
    const hooks = this.#host.application.hooks;
    const errorHooks = call.outcome === "error" ? hooks.onError : null;
    const failed = errorHooks !== null ? this.#runErrorHooks(errorHooks, call.error, call.command, null) : undefined;
    const responseHooks = hooks.onResponse;
    if (responseHooks === null) return failed;
    const respond = (): Promise<void> | void => {
      let pending: Promise<void> | void;
      try {
        pending = runHooks(responseHooks, (hook) => hook(call));
      } catch (error) {
        this.#hookFailed("onResponse", call.command, error);
        return;
      }
      return pending?.then(undefined, (error: unknown) => this.#hookFailed("onResponse", call.command, error));
    };
    return failed ? failed.then(respond) : respond();
  }

  /** A hook threw: logged, then the onError hooks hear of it. */
  #hookFailed(hook: HookName, command: string, error: unknown): Promise<void> | void {
    this.#logFailure(error, { hook, command }, "hook failed");
    const errorHooks = this.#host.application.hooks.onError;
    return errorHooks !== null && hook !== "onError" ? this.#runErrorHooks(errorHooks, error, command, hook) : undefined;
  }

  /** The onError hooks; one that throws is logged, and the rest of them are skipped. */
  #runErrorHooks(hooks: NonNullable<HookSet["onError"]>, error: unknown, command: string, hook: HookName | null): Promise<void> | void {
    const context = { connection: this.#host.connection, command, hook };
    try {
      const pending = runHooks(hooks, (onError) => onError(error, context));
      return pending?.then(undefined, (failure: unknown) => this.#logFailure(failure, { hook: "onError", command }, "hook failed"));
    } catch (failure) {
      this.#logFailure(failure, { hook: "onError", command }, "hook failed");
    }
  }

  #logFailure(error: unknown, fields: Record<string, unknown>, message: string): void {
    try {
      this.#host.connection.logger.error({ err: error, ...fields }, message);
    } catch {
      this.#host.connection.logger.error(fields, `${message} with a value that cannot be logged`);
    }
  }

  #encodeOutcome(definition: CommandDefinition, handler: CommandHandler | null, outcome: Outcome): void {
    if (outcome instanceof Failure) {
      this.#replyError(this.#errorReply(definition, outcome.error));
      return;
    }
    // `skipReply()`: the command answered with its pushes, which are already in the output.
    if (handler?.[SKIP_REPLY]) return;
    const written = handler?.[REPLIES] ?? null;
    if (written === null) this.#host.encoder.encodeValue(outcome === undefined ? OK : (outcome as ReplyValue), this.#output);
    else this.#host.encoder.encodeValues(outcome === undefined ? written : [...written, outcome as ReplyValue], this.#output);
  }

  #errorReply(definition: CommandDefinition, error: unknown): ErrorReply {
    // `instanceof` and property reads may throw (a Proxy): #complete then replies the internal error.
    if (error instanceof CommandError && typeof error.message === "string") {
      const { code, message } = error;
      // Not the message: it may quote what the client sent (an argument, a password).
      const argument = error instanceof InvalidArgumentError || error instanceof MissingArgumentError ? error.argument : undefined;
      this.#host.connection.logger.debug({ command: definition.name, code, argument }, "command refused");
      return { code: typeof code === "string" && ERROR_CODE.test(code) ? code : "ERR", message };
    }
    // A call to Redis that got no answer (Redis down, a lost connection) is no bug of the command.
    const redisFailure = redisFailureReply(error);
    if (redisFailure !== null) {
      this.#host.connection.logger.warn({ command: definition.name, reply: redisFailure.message }, "command failed: Redis unavailable");
      return redisFailure;
    }
    // Anything can be thrown, even a value that cannot be logged or turned into a string:
    // nothing here may throw, or the connection's queue would stall.
    try {
      this.#host.connection.logger.error({ err: error, command: definition.name }, "command failed");
    } catch {
      this.#host.connection.logger.error({ command: definition.name }, "command failed with a value that cannot be logged");
    }
    if (!this.#host.application.settings.debug) return INTERNAL_ERROR;
    return WireErrors.internalWithDetail(describeThrown(error));
  }
}
