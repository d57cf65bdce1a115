/**
 * Telnet's in-band commands over real sockets: the real `telnet` program's Ctrl-C
 * (`send ip`), `send ayt` and `send brk` between commands, and raw option negotiation
 * split across writes, never turn into junk at the start of the next command. RESP
 * connections are binary and keep every 0xFF byte.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { Application, CommandHandler, command, parameter, status, type Status } from "../../src/index.js";
import { rawLength, useTestBed } from "../support.js";
import { skipWithoutTelnet as skip, telnetSession } from "../telnet-support.js";

class Tools extends CommandHandler {
  @command({ help: "Replies PONG." })
  ping(): Status {
    return status("PONG");
  }

  @parameter({ name: "value", type: "buffer" })
  hex(): string {
    return this.getBuffer("value")!.toString("hex");
  }
}

describe("telnet commands in the text protocol", () => {
  const bed = useTestBed();

  it("the telnet program's send ip / ayt / brk between commands leave the next command intact", { skip }, async () => {
    const port = await bed.serve(new Application([Tools]));
    const keystrokes = ["ping\n"];
    for (const what of ["ip", "ayt", "brk"]) {
      keystrokes.push("\x1d", `send ${what}\n`, "ping\n"); // telnet's escape character, then a command at its prompt
    }
    keystrokes.push("quit\n");
    const output = await telnetSession(port, keystrokes, { pauseMs: 80 });
    const replies = output.split("\n").filter((line) => /^[+-]/.test(line));
    assert.deepEqual(replies, ["+PONG", "+PONG", "+PONG", "+PONG", "+OK"], output);
  });

  it("option negotiation split across writes is removed; IAC IAC is a literal 0xFF", async () => {
    const port = await bed.serve(new Application([Tools]));
    const client = await bed.open(port);
    client.write(Buffer.from([0xff, 0xfd])); // IAC DO ...
    await sleep(20);
    client.write(Buffer.from([0x18, 0xff, 0xfa, 0x18, 0x00])); // ... TERMINAL-TYPE, IAC SB TERMINAL-TYPE IS
    await sleep(20);
    client.write(Buffer.from([...Buffer.from("vt100"), 0xff, 0xf0, ...Buffer.from("pi")])); // ... IAC SE, then "pi"
    await sleep(20);
    client.write(Buffer.from([0xff, 0xf4, ...Buffer.from("ng\r\n")])); // IAC IP in the middle of the word
    assert.equal(await client.readLine(), "+PONG");
    client.write(Buffer.from([...Buffer.from("hex a"), 0xff, 0xff, ...Buffer.from("b\r\n")]));
    // The text protocol reads words as UTF-8; a lone 0xFF is not valid UTF-8, so it arrives as U+FFFD.
    assert.equal(await client.readLine(), Buffer.from("a\ufffdb").toString("hex"));
  });

  it("a RESP connection keeps every 0xFF byte of a bulk string", async () => {
    const port = await bed.serve(new Application([Tools]));
    const client = await bed.open(port);
    const value = Buffer.from([0xff, 0xf4, 0xff, 0xff, 0xfd, 0x06]);
    client.write(Buffer.concat([Buffer.from(`*2\r\n$3\r\nhex\r\n$${value.length}\r\n`), value, Buffer.from("\r\n")]));
    const hex = value.toString("hex");
    const raw = await rawLength(client, `$${hex.length}\r\n${hex}\r\n`.length);
    assert.equal(raw, `$${hex.length}\r\n${hex}\r\n`);
  });
});
