/**
 * One shell connection: opens the RetopyClient from the parsed flags, runs a command line's
 * words and turns the outcome into the text to print, so the one-shot, piped and
 * interactive modes print alike.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ClientError, ReplyError, RetopyClient, type RetopyClientOptions } from "../client/index.js";
import type { ConnectArgs } from "./args.js";
import { formatError, formatHelp, formatReply } from "./format.js";

/** Why the shell could not start: printed on stderr, exit code 1. */
export class ConnectFailure extends Error {}

/** What running one command printed: on stdout, or (an error reply) on stderr. */
export interface Outcome {
  text: string;
  error: boolean;
}

export async function openClient(args: ConnectArgs): Promise<RetopyClient> {
  const options: RetopyClientOptions = { host: args.host, port: args.port, protocol: args.protocol, connectTimeout: 5000 };
  if (args.tls) {
    if (args.cacert === undefined) options.tls = true;
    else {
      try {
        options.tls = { ca: readFileSync(resolve(process.cwd(), args.cacert)) };
      } catch (error) {
        throw new ConnectFailure(`cannot read --cacert '${args.cacert}': ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  if (args.user !== undefined) options.user = args.user;
  if (args.password !== undefined) options.password = args.password;
  try {
    return await RetopyClient.connect(options);
  } catch (error) {
    if (error instanceof ReplyError) throw new ConnectFailure(`cannot log in to ${args.host}:${args.port}: ${formatError(error)}`);
    throw new ConnectFailure(`cannot connect to ${args.host}:${args.port}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Runs `words` (command first) and formats the reply; a lost connection rejects with ConnectFailure. */
export async function runCommand(client: RetopyClient, words: readonly string[]): Promise<Outcome> {
  const [name, ...rest] = words;
  if (name === undefined) return { text: "", error: false };
  try {
    const reply = await client.call(name, ...rest);
    return { text: name.toLowerCase() === "help" ? formatHelp(reply) : formatReply(reply), error: false };
  } catch (error) {
    if (error instanceof ReplyError) return { text: formatError(error), error: true };
    if (error instanceof ClientError) throw new ConnectFailure(error.message);
    throw error;
  }
}

/** Commands after which the server keeps sending pushes, so a one-shot run stays to print them. */
export const STREAMING = new Set(["subscribe", "psubscribe", "ssubscribe"]);
