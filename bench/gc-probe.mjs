// Preloaded (`--import`) into a server forked by a bench (the CLI, which cannot call
// reportToBench itself): answers the bench's memory probes (see child-ipc.mjs).
import { answerMemoryProbes } from "./child-ipc.mjs";

if (process.send) {
  answerMemoryProbes();
  process.channel?.unref(); // the server's own handles keep it alive, not the bench's channel
}
