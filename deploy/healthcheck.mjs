// The container's health check: PING retopy on 127.0.0.1:$PORT and exit 0 on +PONG, 1 on
// anything else (an error, a refusal, no answer within 2 s). It starts with `PROXY UNKNOWN`,
// the PROXY protocol's line for a proxy's own connection (retopy keeps the socket's address),
// so it passes a server run with --proxy-protocol; without that flag, drop the header.
import { connect } from "node:net";

const socket = connect({ host: "127.0.0.1", port: Number(process.env.PORT ?? 8000) });
let reply = "";
const done = (healthy) => {
  socket.destroy();
  process.exit(healthy ? 0 : 1);
};
socket.setTimeout(2000, () => done(false));
socket.on("error", () => done(false));
socket.on("close", () => done(false));
socket.on("data", (chunk) => {
  reply += chunk;
  if (reply.includes("\r\n")) done(reply.startsWith("+PONG\r\n"));
});
socket.write("PROXY UNKNOWN\r\nPING\r\n");
