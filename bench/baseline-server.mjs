// The yardstick of `npm run bench`: a bare node:net key-value server with no framework.
// It speaks what redis-benchmark sends — inline commands (`PING\r\n`) and RESP multibulk
// (`*N\r\n$len\r\n...`), binary-safe and across any chunking — and answers ping, set,
// get, incr, del and `config get <x>` over a Map with RESP2 replies, one write per read.
//
//   node bench/baseline-server.mjs [port=0]   # prints the port, serves on 127.0.0.1
//
// Under child_process.fork (bench/run.mjs) it also reports {type:"listening", port} and
// answers the IPC message "memory" with process.memoryUsage() after a forced GC
// (start it with --expose-gc for that).
import { reportToBench } from "./child-ipc.mjs";
import net from "node:net";

const MAX_INLINE = 64 * 1024; // as Redis: longer without a newline is a protocol error
const MAX_ARGS = 1024 * 1024;
const MAX_BULK = 512 * 1024 * 1024;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const REDIS_INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

/** Keys and values are latin1 strings: one char per byte, so binary data round-trips. */
const store = new Map();

const bulk = (s) => `$${s.length}\r\n${s}\r\n`;
const arity = (name) => `-ERR wrong number of arguments for '${name}' command\r\n`;

/** Redis's string2ll: the value as a number (≤ 15 digits) or bigint, or null. */
function parseInt64(s) {
  if (s.length > 20 || !REDIS_INTEGER.test(s)) return null;
  if (s.length <= 15) return Number(s);
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? null : v;
}

/** Runs one command (args[0] is its name) and returns its RESP reply. */
function execute(args) {
  const name = args[0].toLowerCase();
  switch (name) {
    case "ping":
      if (args.length === 1) return "+PONG\r\n";
      return args.length === 2 ? bulk(args[1]) : arity(name);
    case "set":
      if (args.length !== 3) return args.length < 3 ? arity(name) : "-ERR syntax error\r\n";
      store.set(args[1], args[2]);
      return "+OK\r\n";
    case "get": {
      if (args.length !== 2) return arity(name);
      const v = store.get(args[1]);
      return v === undefined ? "$-1\r\n" : bulk(v);
    }
    case "incr": {
      if (args.length !== 2) return arity(name);
      const old = store.get(args[1]);
      const n = old === undefined ? 0 : parseInt64(old);
      if (n === null) return "-ERR value is not an integer or out of range\r\n";
      if (typeof n === "number" && n < Number.MAX_SAFE_INTEGER) {
        store.set(args[1], String(n + 1));
        return `:${n + 1}\r\n`;
      }
      const big = BigInt(n);
      if (big === INT64_MAX) return "-ERR increment or decrement would overflow\r\n";
      store.set(args[1], String(big + 1n));
      return `:${big + 1n}\r\n`;
    }
    case "del": {
      if (args.length < 2) return arity(name);
      let removed = 0;
      for (let i = 1; i < args.length; i++) if (store.delete(args[i])) removed++;
      return `:${removed}\r\n`;
    }
    case "config":
      // redis-benchmark asks `CONFIG GET save` and `CONFIG GET appendonly`: name, empty value.
      if (args.length === 3 && args[1].toLowerCase() === "get") return `*2\r\n${bulk(args[2])}$0\r\n\r\n`;
      return "-ERR unsupported CONFIG subcommand\r\n";
    default:
      return `-ERR unknown command '${args[0].slice(0, 128).replace(/[\r\n]/g, " ")}'\r\n`;
  }
}

/** Splits an inline command like Redis's sdssplitargs; null on unbalanced quotes. */
function splitInline(line) {
  if (!line.includes('"') && !line.includes("'")) return line.split(/[ \t]+/).filter((w) => w.length > 0);
  const args = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === " " || line[i] === "\t") i++;
    if (i >= line.length) break;
    let word = "";
    let quote = null;
    for (; i < line.length; i++) {
      const c = line[i];
      if (quote === '"') {
        if (c === "\\" && i + 1 < line.length) {
          const e = line[++i];
          if (e === "x" && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 1, i + 3))) {
            word += String.fromCharCode(parseInt(line.slice(i + 1, i + 3), 16));
            i += 2;
          } else word += { n: "\n", r: "\r", t: "\t", b: "\b", a: "\x07" }[e] ?? e;
        } else if (c === '"') {
          quote = null;
          if (i + 1 < line.length && line[i + 1] !== " " && line[i + 1] !== "\t") return null;
        } else word += c;
      } else if (quote === "'") {
        if (c === "\\" && line[i + 1] === "'") word += line[++i];
        else if (c === "'") {
          quote = null;
          if (i + 1 < line.length && line[i + 1] !== " " && line[i + 1] !== "\t") return null;
        } else word += c;
      } else if (c === " " || c === "\t") break;
      else if ((c === '"' || c === "'") && word === "") quote = c;
      else word += c;
    }
    if (quote) return null;
    args.push(word);
  }
  return args;
}

/** The decimal integer in buf[a, b) (an optional '-', then digits), or NaN. */
function parseLength(buf, a, b) {
  const negative = buf[a] === 45; /* '-' */
  if (negative) a++;
  if (a >= b || b - a > 12) return NaN;
  let n = 0;
  for (let i = a; i < b; i++) {
    const digit = buf[i] - 48;
    if (digit < 0 || digit > 9) return NaN;
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

/**
 * Parses every complete command in buf from 0, appending replies to a string.
 * Returns { out, used, need, close }: `used` bytes were consumed; when a command is
 * incomplete, `need` is how many bytes (from `used`) must be buffered before parsing again.
 */
function parse(buf) {
  let out = "";
  let pos = 0;
  const end = buf.length;
  while (pos < end) {
    if (buf[pos] !== 42 /* '*' */) {
      // Inline command, ended by LF (a CR before it is dropped).
      const nl = buf.indexOf(10, pos);
      if (nl < 0) {
        if (end - pos > MAX_INLINE) return { out: out + "-ERR Protocol error: too big inline request\r\n", used: end, need: 0, close: true };
        return { out, used: pos, need: end - pos + 1, close: false };
      }
      const stop = nl > pos && buf[nl - 1] === 13 ? nl - 1 : nl;
      const args = splitInline(buf.latin1Slice(pos, stop));
      pos = nl + 1;
      if (args === null) return { out: out + "-ERR Protocol error: unbalanced quotes in request\r\n", used: end, need: 0, close: true };
      if (args.length > 0) out += execute(args);
      continue;
    }
    // Multibulk: *<n>\r\n then n times $<len>\r\n<len bytes>\r\n.
    const start = pos;
    let cr = buf.indexOf(13, pos);
    if (cr < 0 || cr + 1 >= end) {
      if (end - pos > MAX_INLINE) return { out: out + "-ERR Protocol error: too big mbulk count string\r\n", used: end, need: 0, close: true };
      return { out, used: start, need: end - start + 1, close: false };
    }
    const count = parseLength(buf, pos + 1, cr);
    if (!(count <= MAX_ARGS)) {
      return { out: out + "-ERR Protocol error: invalid multibulk length\r\n", used: end, need: 0, close: true };
    }
    pos = cr + 2;
    if (count <= 0) continue; // *0 and *-1 are empty requests, as in Redis
    const args = new Array(count);
    for (let i = 0; i < count; i++) {
      if (pos >= end) return { out, used: start, need: end - start + 1, close: false };
      if (buf[pos] !== 36 /* '$' */) {
        const got = String.fromCharCode(buf[pos]);
        return { out: out + `-ERR Protocol error: expected '$', got '${got}'\r\n`, used: end, need: 0, close: true };
      }
      cr = buf.indexOf(13, pos);
      if (cr < 0 || cr + 1 >= end) {
        if (end - pos > MAX_INLINE) return { out: out + "-ERR Protocol error: too big bulk count string\r\n", used: end, need: 0, close: true };
        return { out, used: start, need: end - start + 1, close: false };
      }
      const len = parseLength(buf, pos + 1, cr);
      if (!(len >= 0 && len <= MAX_BULK)) {
        return { out: out + "-ERR Protocol error: invalid bulk length\r\n", used: end, need: 0, close: true };
      }
      pos = cr + 2;
      if (pos + len + 2 > end) return { out, used: start, need: pos + len + 2 - start, close: false };
      args[i] = buf.latin1Slice(pos, pos + len);
      pos += len + 2;
    }
    out += execute(args);
  }
  return { out, used: pos, need: 0, close: false };
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  // Unparsed bytes are kept as a list of chunks and joined only once `need` bytes are in,
  // so a large bulk arriving in many reads is copied once, not once per read.
  let chunks = [];
  let buffered = 0;
  let need = 0;
  socket.on("data", (chunk) => {
    let buf = chunk;
    if (buffered > 0) {
      chunks.push(chunk);
      buffered += chunk.length;
      if (buffered < need) return;
      buf = Buffer.concat(chunks, buffered);
      chunks = [];
      buffered = 0;
    }
    const result = parse(buf);
    if (result.out) socket.write(result.out, "latin1");
    if (result.close) {
      socket.end();
      return;
    }
    if (result.used < buf.length) {
      chunks = [buf.subarray(result.used)];
      buffered = buf.length - result.used;
      need = result.need;
    }
  });
  socket.on("error", () => {});
});

server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  // Past listen, an error (EMFILE on accept) costs that connection, not the server.
  server.on("error", (error) => console.error(`baseline-server: ${error.message}`));
  reportToBench(server.address().port);
});
