// Preloaded (`--import`) into a server forked by a bench: the IPC message "memory" is
// answered with process.memoryUsage() after a forced GC (start it with --expose-gc), so a
// measured RSS holds what the server retains rather than garbage not yet collected.
if (process.send) {
  process.on("message", (message) => {
    if (message !== "memory") return;
    globalThis.gc?.();
    globalThis.gc?.();
    process.send({ type: "memory", usage: process.memoryUsage() });
  });
  process.on("disconnect", () => process.exit(0));
  process.channel?.unref(); // the server's own handles keep it alive, not the bench's channel
}
