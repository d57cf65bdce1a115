// Shared by the bench's server children: announce the port, answer memory probes, and exit
// when the bench goes away so no server lingers.
export function reportToBench(port) {
  if (!process.send) {
    console.log(port);
    return;
  }
  process.send({ type: "listening", port });
  answerMemoryProbes();
}

/**
 * Answers the bench's IPC message "memory" with process.memoryUsage() after a forced GC (run
 * with --expose-gc), so a measured RSS holds what the server retains, not garbage; exits
 * when the bench goes away.
 */
export function answerMemoryProbes() {
  process.on("message", (message) => {
    if (message !== "memory") return;
    globalThis.gc?.();
    globalThis.gc?.();
    process.send({ type: "memory", usage: process.memoryUsage() });
  });
  process.on("disconnect", () => process.exit(0));
}
