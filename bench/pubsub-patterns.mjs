// How long one PUBLISH takes with 10,000 distinct hostile patterns subscribed (docs/pubsub.md),
// against channels of `a`s that almost match every pattern. Three shapes: a run of `a` then a
// tail that never matches, at the end (`*aaa…ab7`) or in the middle (`*aaa…ab7*`), and a middle
// run with a `?` in it (`*aaa…a?b7*`, the matcher's slow path: O(run × channel) per pattern).
// Run: npm run build && node bench/pubsub-patterns.mjs [patterns] [run length]
import { PubSub } from "../dist/src/index.js";

const PATTERNS = Number(process.argv[2] ?? 10_000);
const RUN = Number(process.argv[3] ?? 30);
const shapes = {
  "*aaa…ab<i>": (i) => `*${"a".repeat(RUN)}b${i}`,
  "*aaa…ab<i>*": (i) => `*${"a".repeat(RUN)}b${i}*`,
  "*aaa…a?b<i>*": (i) => `*${"a".repeat(RUN)}?b${i}*`,
};
for (const [shape, make] of Object.entries(shapes)) {
  const connection = { signal: new AbortController().signal, push() {} };
  const pubsub = new PubSub();
  for (let i = 0; i < PATTERNS; i++) pubsub.psubscribe(connection, make(i));
  pubsub.publish("warm-up", "x");
  for (const length of [100, 1_000, 10_000]) {
    const channel = "a".repeat(length) + "b";
    const started = process.hrtime.bigint();
    pubsub.publish(channel, "x");
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`${PATTERNS} patterns ${shape} (run ${RUN}), channel of ${length + 1} chars: one PUBLISH ${ms.toFixed(1)} ms`);
  }
}
