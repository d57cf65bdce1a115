/**
 * `redis://` and `rediss://` URLs, as redis-cli, ioredis and node-redis read them, turned
 * into retopy client options: the one parser behind `--redis`, `--pubsub redis://` and the
 * server's `redis` option.
 *
 *   redis://[[user]:password@]host[:port][/db]     rediss:// is the same over TLS
 */
import { RetopyError } from "./errors.js";
import type { RetopyClientOptions } from "./client/options.js";

/** What a Redis URL names: where to connect, how to log in, and which database to select. */
export interface RedisTarget extends RetopyClientOptions {
  readonly host: string;
  readonly port: number;
  /** The database number of the URL's path (`/2`); 0 when it has none. */
  readonly db: number;
}

const DEFAULT_REDIS_PORT = 6379;

/** Parses a Redis URL; throws RETOPY_INVALID_OPTION naming what is wrong (never echoing a password). */
export function parseRedisUrl(text: string): RedisTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(text, "not a URL");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw invalid(text, `the scheme must be redis:// or rediss://, not ${url.protocol}//`);
  if (url.hostname === "") throw invalid(text, "it names no host");
  if (url.search !== "" || url.hash !== "") throw invalid(text, "query strings and fragments are not supported");
  const port = url.port === "" ? DEFAULT_REDIS_PORT : Number(url.port);
  const path = url.pathname.replace(/^\//, "");
  if (path !== "" && !/^(0|[1-9]\d{0,4})$/.test(path)) throw invalid(text, `the path must be a database number, not '/${path}'`);
  const target: RedisTarget = {
    // URL keeps IPv6 hosts bracketed; net.connect wants them bare.
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    db: path === "" ? 0 : Number(path),
    ...(url.protocol === "rediss:" && { tls: true as const }),
    ...(url.username !== "" && { user: decoded(text, url.username) }),
    ...(url.password !== "" && { password: decoded(text, url.password) }),
  };
  return target;
}

/**
 * The URL with its password masked, for logs and error messages. A lone user part
 * (`redis://secret@host`) is masked too: it is often a password written without its `:`.
 */
export function redactRedisUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password !== "") url.password = "***";
    else if (url.username !== "") url.username = "***";
    return url.toString();
  } catch {
    return "(unparsable URL)";
  }
}

/** A user or password as given; a bare `%` (common in generated passwords) is not an encoding. */
function decoded(text: string, part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(text, "the user or password has a '%' that starts no percent-encoding: write % as %25 (encodeURIComponent)");
  }
}

function invalid(text: string, why: string): RetopyError {
  return new RetopyError("RETOPY_INVALID_OPTION", `invalid Redis URL ${redactRedisUrl(text)}: ${why}`);
}
