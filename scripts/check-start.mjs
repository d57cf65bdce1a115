// CI's check of the README's quick start on a fresh clone: `npm start` builds dist/ by itself
// (nothing builds on install) and serves examples/counter.ts, whose `increment a` answers 1.
// It listens on a free port of 127.0.0.1: the `--port 0` given here wins over the script's 8000.
import { spawn } from "node:child_process";
import net from "node:net";

const child = spawn("npm", ["start", "--", "--port", "0"], { detached: true, stdio: ["ignore", "pipe", "inherit"] });
const stop = () => {
  try {
    process.kill(-child.pid, "SIGTERM"); // npm, its shell and the server
  } catch {}
};
const fail = (why) => {
  console.error(`check-start: ${why}`);
  stop();
  process.exit(1);
};
const deadline = setTimeout(() => fail("npm start did not listen within 180 s"), 180_000);
child.on("exit", (code) => fail(`npm start exited (${code}) before answering`));

let output = "";
child.stdout.setEncoding("utf8").on("data", (chunk) => {
  output += chunk;
  const line = output.split("\n").find((l) => l.startsWith("{") && l.includes('"msg":"listening"'));
  if (!line) return;
  child.stdout.removeAllListeners("data");
  const { port } = JSON.parse(line);
  const socket = net.connect(port, "127.0.0.1", () => socket.write("increment a\r\n"));
  let reply = "";
  socket.setEncoding("utf8").on("data", (data) => {
    reply += data;
    if (!reply.endsWith("\r\n")) return;
    clearTimeout(deadline);
    child.removeAllListeners("exit");
    socket.destroy();
    stop();
    if (reply !== "1\r\n") fail(`increment a answered ${JSON.stringify(reply)}`);
    console.log(`check-start: npm start built and served examples/counter.ts on port ${port}; increment a -> 1`);
  });
  socket.on("error", (error) => fail(`cannot reach the server: ${error.message}`));
});
