// Password guessing by hanging up early (issue 10): a failed login is refused only after
// authFailureDelay (100 ms), so a client that hangs up after 5 ms of silence and reconnects
// never waits. 100 such clients guess in parallel against a server on 127.0.0.1 for
// SECONDS each, once with the per-address budget off (what the review measured) and once with
// the defaults; printed: how many guesses per second reached `authenticate`.
//
//   npm run bench:login            # builds, then about 2 × SECONDS seconds
//   node bench/login-guessing.mjs [seconds]
import net from "node:net";
import { Application, passwordAuthenticator, RetopyServer } from "../dist/src/index.js";

const SECONDS = Number(process.argv[2] ?? 5);
const CLIENTS = 100;

async function attack(settings) {
  let asked = 0;
  const check = passwordAuthenticator({ alice: "the right one" });
  const app = new Application([], {
    ...settings,
    authenticate: (user, password, connection) => {
      asked++;
      return check(user, password, connection);
    },
  });
  const server = new RetopyServer(app, { logger: false, maxConnections: 0 });
  const { port } = await server.listen({ port: 0, host: "127.0.0.1" });
  const deadline = Date.now() + SECONDS * 1000;
  let guesses = 0;
  const guesser = async () => {
    // Bounded by the deadline: each round is one connection, one guess, a 5 ms wait.
    while (Date.now() < deadline) {
      const socket = net.connect(port, "127.0.0.1");
      socket.on("error", () => undefined);
      await new Promise((resolve) => socket.once("connect", resolve).once("error", resolve));
      socket.write(`header line\r\nAUTH alice guess${guesses++}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      socket.destroy();
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, guesser));
  await server.close({ timeout: 1000 });
  return { sent: guesses, asked, perSecond: asked / SECONDS };
}

const before = await attack({ maxAuthFailuresPerAddress: 0 });
const after = await attack({});
console.log(`guesses sent over ${SECONDS} s by ${CLIENTS} hang-up-early clients, and how many reached authenticate:`);
console.log(`  budget off (before): sent ${before.sent}, checked ${before.asked} = ${before.perSecond.toFixed(1)}/s`);
console.log(`  defaults (30 per address per minute): sent ${after.sent}, checked ${after.asked} = ${after.perSecond.toFixed(1)}/s`);
