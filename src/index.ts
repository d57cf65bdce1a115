/**
 * retopy: Tornado-style line-based TCP command servers for Node.js.
 *
 * ```ts
 * class Counter extends CommandHandler {
 *   @parameter({ name: "key" })
 *   increment() { ... }
 * }
 * await new RetopyServer(new Application([Counter])).listen(8000);
 * ```
 */
export { Application, isApplication } from "./application.js";
export type { CommandFunction, CommandSpec, HandlerEntry, TypedCommandFunction } from "./application.js";
export { Command, DeclaredCommand } from "./command-class.js";
export type { CommandClass, CommandDeclaration } from "./command-class.js";
export { TypedHandler } from "./typed-handler.js";
export type { ArgumentsOf, ArgumentValue, ConvertedType, ParameterDeclaration, TypedCommandSpec } from "./typed-args.js";
export type { ApplicationSettings, AuthenticateFunction, CheckedSettings } from "./settings.js";
export { CommandHandler } from "./handler.js";
export type { CommandDefinition, CommandInvocation, CommandTable, HandlerClass, HandlerContext, ServerInfo } from "./handler.js";
export type { ConnectionInfo, ConnectionState } from "./connection-info.js";
export { authenticated, command, parameter } from "./decorators.js";
export type { CommandMethodDecorator } from "./decorators.js";
export type {
  BoundArguments,
  CommandOptions,
  ParameterOptions,
  ParameterSpec,
  ParameterType,
  RawArgument,
} from "./command-spec.js";
export { CommandError, CommandTimeoutError, InvalidArgumentError, MissingArgumentError, RetopyError } from "./errors.js";
export type { RetopyErrorCode } from "./errors.js";
export { Status, status, Verbatim, verbatim } from "./reply.js";
export type { ReplyValue } from "./reply.js";
export { checkReplyValue, UnsupportedReplyError } from "./reply-support.js";
export { PubSub } from "./pubsub/registry.js";
export type { PubSubSink, PubSubTransport, SubscriptionKind } from "./pubsub/transport.js";
export { InProcessTransport } from "./pubsub/in-process.js";
export { ClusterRelayTransport } from "./pubsub/cluster-relay.js";
export { relayPubSub, type PubSubRelay } from "./pubsub/cluster-primary.js";
export { RedisTransport, type RedisPubSubOptions } from "./pubsub/redis.js";
export type { PubSubOption } from "./pubsub/option.js";
export { GlobPattern, globMatch } from "./glob.js";
export type { GlobOptions } from "./glob.js";
export { InjectedConnection } from "./inject.js";
export type { InjectCommand, InjectOptions, InjectResult } from "./inject.js";
export { ReplyError, RespProtocolError, RespReader } from "./protocol/resp-reader.js";
export type { RespFrame, RespReaderOptions, RespReplyValue } from "./protocol/resp-reader.js";
export { RetopyServer } from "./server.js";
export { handleProcessFaults } from "./process-faults.js";
export type { ProcessFaultOptions } from "./process-faults.js";
export type { CommandContext } from "./command-context.js";
export type { CloseOptions, CloseResult, ListenOptions, RetopyServerOptions } from "./server.js";
export type { RedisConnectionOptions, RedisOption } from "./redis-connection.js";
export type { InspectOptions } from "./inspect/options.js";
export type { ServerStats } from "./stats.js";
export type { CommandHookContext, CommandResultContext, ErrorHookContext, HookName, HookResult, Hooks } from "./hooks.js";
export type { CommandOutcome, CommandStatsEntry } from "./command-stats.js";
export type { MetricsOptions, MetricsRegistry } from "./metrics-options.js";
export type { ProxyPeer, ProxyProtocolOptions } from "./proxy-protocol.js";
export type { LoggerOption, RetopyLoggerOptions } from "./logger.js";
export { logRedaction } from "./logger.js";
export { passwordAuthenticator, safeEqual } from "./auth.js";
export type { PasswordTable } from "./auth.js";
export { splitArgs } from "./protocol/split-args.js";
export { quoteArg, quoteArgs } from "./protocol/quote-args.js";
export { connectionMachine } from "../machines/connection.machine.js";
export type { ConnectionEvent } from "../machines/connection.machine.js";
export type { CloseReason, HandshakeMode, ParsedItem, WireProtocol } from "./protocol/wire.js";
export { supervisorMachine } from "../machines/supervisor.machine.js";
