/**
 * Failed logins per remote address, across connections. The per-connection lockout and the
 * failure delay stop guessing on one connection, but a client that hangs up after a few
 * milliseconds of silence and reconnects pays neither: the review made 2,276 guesses a second
 * that way over 100 connections. Here every attempt is charged to its address when it is made
 * (and refunded if it succeeds), so hanging up early saves nothing and parallel connections
 * share one budget.
 *
 * The table is bounded: past MAX_ADDRESSES the oldest entries go first. A client with many
 * addresses can push others out, which only ever resets a budget, never blocks anyone; IPv6
 * addresses count by their /64 network, the block one host usually has.
 */
import { isIPv6 } from "node:net";

const MAX_ADDRESSES = 10_000;

interface Entry {
  failures: number;
  readonly since: number;
  warned: boolean;
}

/** The key an address is counted under: IPv4 as is, IPv6 by its first four groups. */
export function addressKey(address: string): string {
  if (address.startsWith("::ffff:") && address.includes(".")) return address.slice(7); // IPv4-mapped
  if (!isIPv6(address)) return address;
  const [head = "", tail = ""] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = address.includes("::") ? [...left, ...new Array<string>(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

export class LoginBudget {
  readonly #entries = new Map<string, Entry>();
  readonly #limit: number;
  readonly #window: number;

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#window = windowMs;
  }

  /**
   * Charges one attempt to `address`: "allowed", or "spent" when its budget is (the attempt
   * is refused without being checked), "just-spent" the first time in a window, to log once.
   */
  charge(address: string | undefined, now = Date.now()): "allowed" | "spent" | "just-spent" {
    if (this.#limit === 0 || address === undefined) return "allowed";
    const key = addressKey(address);
    let entry = this.#entries.get(key);
    if (entry && now - entry.since >= this.#window) {
      this.#entries.delete(key);
      entry = undefined;
    }
    if (!entry) {
      if (this.#entries.size >= MAX_ADDRESSES) this.#entries.delete(this.#entries.keys().next().value!);
      entry = { failures: 0, since: now, warned: false };
      this.#entries.set(key, entry);
    }
    if (entry.failures >= this.#limit) {
      if (entry.warned) return "spent";
      entry.warned = true;
      return "just-spent";
    }
    entry.failures++;
    return "allowed";
  }

  /** Gives back the attempt charged to `address`: it succeeded. */
  refund(address: string | undefined): void {
    if (this.#limit === 0 || address === undefined) return;
    const entry = this.#entries.get(addressKey(address));
    if (entry && entry.failures > 0) entry.failures--;
  }
}
