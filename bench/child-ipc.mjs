// Shared by the bench's server children: announce the port, answer memory probes, and exit
// when the bench goes away so no server lingers.
export function reportToBench(port) {
  if (!process.send) {
    console.log(port);
    return;
  }
  process.send({ type: "listening", port });
  process.on("message", (message) => {
    if (message !== "memory") return;
    globalThis.gc?.();
    globalThis.gc?.();
    process.send({ type: "memory", usage: process.memoryUsage() });
  });
  process.on("disconnect", () => process.exit(0));
}
