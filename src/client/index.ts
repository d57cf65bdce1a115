/**
 * retopy's own client: `import { RetopyClient } from "retopy/client"`.
 */
export { RetopyClient } from "./client.js";
export type { RetopyClientOptions } from "./options.js";
export { Pipeline, type CallOptions, type PipelineResult } from "./pipeline.js";
export { backoffDelay, reconnectPolicy, type ReconnectingEvent, type ReconnectOptions, type ReconnectPolicy } from "./reconnect.js";
export { type CommandFunctions, type CommandProxy } from "./commands.js";
export { ClientError, type ClientErrorCode, ReplyError } from "./errors.js";
export type { Argument } from "../protocol/encode-request.js";
export type { BufferReply, Reply } from "./reply.js";
export { encodeRequest } from "../protocol/encode-request.js";
