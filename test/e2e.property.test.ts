/**
 * Properties of the whole read path (line reader → splitter → machine → handler → reply),
 * checked through a real socket: however the client's bytes are chunked, the server runs
 * the same commands and answers them in order.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { Application, CommandHandler, parameter, quoteArgs, splitArgs } from "../src/index.js";
import { type Running, startServer, TextClient } from "./support.js";

class Echo extends CommandHandler {
  @parameter({ name: "words", variadic: true, default: [] })
  echo(): string {
    return JSON.stringify(this.getArguments("words"));
  }
}

let running: Running;
before(async () => {
  running = await startServer(new Application([Echo]), { handshake: "none" });
});
after(() => running.close());

/** Well-formed strings (lone surrogates cannot survive UTF-8), quotes and escapes included. */
const argument = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }).filter((s) => s === Buffer.from(s, "utf8").toString("utf8")),
  fc.constantFrom("", " ", '"', "'", "\\", "\r\n", "\t", "a b", "\\x41", "€"),
);

test("any chunking of a pipelined stream yields the same commands and replies, in order", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(argument, { maxLength: 5 }), { minLength: 1, maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 30 }),
      async (commands, cuts) => {
        const stream = Buffer.from(commands.map((args) => `${quoteArgs(["echo", ...args])}\r\n`).join(""));
        const client = await TextClient.connect(running.port);
        try {
          // Write the stream in the generated chunk sizes, yielding between writes so
          // the server sees as many separate reads as the kernel allows.
          let offset = 0;
          for (let i = 0; offset < stream.length; i++) {
            const size = cuts[i % cuts.length]!;
            client.write(stream.subarray(offset, offset + size));
            offset += size;
            await new Promise((resolve) => setImmediate(resolve));
          }
          const replies = await client.readLines(commands.length, 5000);
          assert.deepEqual(
            // A reply with a control character (DEL, C1, U+2028) comes quoted, as redis-cli shows it.
            replies.map((line) => JSON.parse(line.startsWith('"') ? splitArgs(Buffer.from(line))![0]! : line) as string[]),
            commands,
          );
        } finally {
          client.close();
        }
      },
    ),
    { numRuns: 60 },
  );
});
