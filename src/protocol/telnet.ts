/**
 * Telnet's in-band commands (RFC 854), removed from a text-protocol byte stream.
 *
 * A real telnet client sends `IAC <command>` sequences when its user presses Ctrl-C
 * (`IAC IP`, then `IAC DO TIMING-MARK`), types `send brk`, or negotiates options
 * (`IAC WILL/WONT/DO/DONT <option>`, `IAC SB ... IAC SE`). Left in, those bytes would
 * become the start of a command word (`unknown command '\xff\xf4...'`). IAC is 0xFF, which
 * never occurs in UTF-8 text, so stripping it cannot eat a character a user typed; a
 * literal 0xFF arrives doubled (`IAC IAC`) and is kept once.
 *
 * Pure and stateful across reads: a sequence split between two reads is still removed.
 * Only for the text protocol: in RESP, 0xFF is an ordinary byte of a binary bulk string.
 */

const IAC = 0xff;
const SB = 0xfa;
const SE = 0xf0;
const WILL = 0xfb;
const DONT = 0xfe;
/**
 * Longest subnegotiation kept track of (real ones are a few bytes: a terminal type, a window
 * size). Past it the bytes are text again, so an `IAC SB` that never ends cannot swallow
 * the rest of the connection.
 */
const MAX_SUBNEGOTIATION = 512;

const enum State {
  Data,
  /** After IAC: the command byte is next. */
  Command,
  /** After WILL/WONT/DO/DONT: one option byte to skip. */
  Option,
  /** Inside a subnegotiation, until IAC SE. */
  Sub,
  /** IAC inside a subnegotiation: SE ends it, anything else stays inside. */
  SubCommand,
}

export class TelnetFilter {
  #state = State.Data;
  #subLength = 0;

  /** The chunk without telnet commands; the chunk itself when it holds none (the common case). */
  filter(chunk: Buffer): Buffer {
    if (this.#state === State.Data && chunk.indexOf(IAC) === -1) return chunk;
    const out = Buffer.allocUnsafe(chunk.length);
    let length = 0;
    for (const byte of chunk) {
      switch (this.#state) {
        case State.Data:
          if (byte === IAC) this.#state = State.Command;
          else out[length++] = byte;
          break;
        case State.Command:
          if (byte === IAC) {
            out[length++] = IAC; // IAC IAC: a literal 0xFF
            this.#state = State.Data;
          } else if (byte >= WILL && byte <= DONT) this.#state = State.Option;
          else if (byte === SB) {
            this.#state = State.Sub;
            this.#subLength = 0;
          }
          else this.#state = State.Data; // IP, BRK, AYT, NOP, GA...: a command with no argument
          break;
        case State.Option:
          this.#state = State.Data;
          break;
        case State.Sub:
          if (byte === IAC) this.#state = State.SubCommand;
          else if (++this.#subLength > MAX_SUBNEGOTIATION) {
            this.#state = State.Data;
            out[length++] = byte;
          }
          break;
        case State.SubCommand:
          this.#state = byte === SE ? State.Data : State.Sub;
          break;
      }
    }
    return out.subarray(0, length);
  }
}
