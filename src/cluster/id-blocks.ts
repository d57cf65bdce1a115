/**
 * CLIENT ID across workers: the primary hands out blocks of ids from one counter, so no two
 * workers (replaced ones included) ever number two connections alike for the life of the
 * primary. A worker asks for its next block when half of the current one is used, so an
 * accept never waits on the IPC channel.
 */

/** Ids per block: a few hundred accepts within one IPC round trip are the most a worker sees. */
export const ID_BLOCK_SIZE = 256;

/**
 * Used only if a worker spends its block and the one it asked for has not arrived: ids above
 * 2^48, 2^20 per worker id, which no block reaches. Unique still, only no longer dense.
 */
const RESERVE_BASE = 2 ** 48;
const RESERVE_PER_WORKER = 2 ** 20;

/** The primary's side: the next block. */
export class IdBlocks {
  #next = 1;
  constructor(readonly size = ID_BLOCK_SIZE) {}

  take(): { first: number; size: number } {
    const first = this.#next;
    this.#next += this.size;
    return { first, size: this.size };
  }
}

/** A worker's side: ids from its blocks, in order. */
export class ClientIdSource {
  #next = 0;
  #end = 0;
  /** Blocks that arrived before the current one ran out. */
  readonly #queued: { first: number; size: number }[] = [];
  #asked = false;
  #reserveUsed = 0;

  /**
   * @param ask sends the primary a request for one more block
   * @param workerId this worker's cluster id, unique for the life of the primary
   */
  constructor(
    readonly ask: () => void,
    readonly workerId: number,
  ) {}

  /** A block from the primary. */
  add(block: { first: number; size: number }): void {
    this.#asked = false;
    if (this.#next >= this.#end) {
      this.#next = block.first;
      this.#end = block.first + block.size;
    } else this.#queued.push(block);
  }

  next(): number {
    if (this.#next >= this.#end) {
      const queued = this.#queued.shift();
      if (queued) {
        this.#next = queued.first;
        this.#end = queued.first + queued.size;
      }
    }
    if (this.#next < this.#end) {
      const id = this.#next++;
      if (!this.#asked && this.#queued.length === 0 && this.#end - this.#next <= ID_BLOCK_SIZE / 2) this.#askOnce();
      return id;
    }
    this.#askOnce();
    return RESERVE_BASE + this.workerId * RESERVE_PER_WORKER + (this.#reserveUsed++ % RESERVE_PER_WORKER);
  }

  /** Ids taken from the reserve so far (0 unless the blocks ran dry). */
  get reserveUsed(): number {
    return this.#reserveUsed;
  }

  #askOnce(): void {
    if (this.#asked) return;
    this.#asked = true;
    this.ask();
  }
}
