// One server for bench/text-pipeline.mjs: `bare` (node:net, no framework) or `retopy`.
// Prints its port on stdout, then serves `ping` (+PONG) until killed.
import net from "node:net";
import { Application, RetopyServer } from "../dist/src/index.js";

const target = process.argv[2];
if (target === "bare") {
  // The baseline: split lines, answer each `ping`, one write per read.
  const server = net.createServer((socket) => {
    let tail = "";
    socket.on("data", (chunk) => {
      const lines = (tail + chunk.toString("latin1")).split("\n");
      tail = lines.pop() ?? "";
      let out = "";
      for (const line of lines) if (line.length > 1) out += "+PONG\r\n";
      if (out) socket.write(out);
    });
    socket.on("error", () => {});
  });
  server.listen(0, "127.0.0.1", () => console.log(server.address().port));
} else {
  const app = new Application([]);
  app.command("ping", {}, () => "+PONG");
  const server = new RetopyServer(app, { logger: false, handshake: "none" });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  console.log(port);
}
