/**
 * What a viewer that connects late is sent first. A plain ring of recent messages is not
 * enough for a server that runs for days: the supervisor's and handler's announcements (sent
 * once, at startup) fall out of it, and the inspector would show nothing it can place. So
 * besides the `limit` most recent messages, the live actors are kept: each one's
 * announcement (`@xstate.actor`) and latest snapshot, until its snapshot says it ended.
 *
 * Both are bounded by `limit`. Past it, an announcement evicts the oldest live actor of the
 * same name, or of the most common name (a crowd of `connection` actors evicts its own oldest
 * member, never the one supervisor), so memory stays at most about 3 × `limit` messages however long it runs.
 */

interface Entry {
  readonly seq: number;
  readonly text: string;
}

interface LiveActor {
  readonly name: string;
  readonly announcement: Entry;
  snapshot: Entry | null;
}

/** The few fields of a Stately inspection message the replay needs. */
interface MessageHead {
  type?: unknown;
  sessionId?: unknown;
  name?: unknown;
  snapshot?: { status?: unknown } | null;
}

export class ReplayBuffer {
  readonly limit: number;
  readonly #recent: Entry[] = [];
  /** Index of the oldest entry in `#recent` once it is full (a ring). */
  #head = 0;
  #seq = 0;
  /** Live actors by name, each group in announcement order (a Map keeps insertion order). */
  readonly #byName = new Map<string, Map<string, LiveActor>>();
  readonly #bySession = new Map<string, LiveActor>();

  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }

  /** Live actors kept (for tests and monitoring). */
  get liveActors(): number {
    return this.#bySession.size;
  }

  add(text: string): void {
    const entry = { seq: ++this.#seq, text };
    if (this.#recent.length < this.limit) this.#recent.push(entry);
    else {
      this.#recent[this.#head] = entry;
      this.#head = (this.#head + 1) % this.limit;
    }
    let head: MessageHead;
    try {
      head = JSON.parse(text) as MessageHead;
    } catch {
      return; // not an inspection message; it was relayed, nothing to remember
    }
    if (typeof head !== "object" || head === null || typeof head.sessionId !== "string") return;
    const ended = head.snapshot?.status !== undefined && head.snapshot.status !== "active";
    if (head.type === "@xstate.actor" && !ended) this.#announce(head.sessionId, typeof head.name === "string" ? head.name : "", entry);
    else if (head.type === "@xstate.snapshot" || head.type === "@xstate.actor") {
      const actor = this.#bySession.get(head.sessionId);
      if (actor && ended) this.#forget(head.sessionId, actor);
      else if (actor && head.type === "@xstate.snapshot") actor.snapshot = entry;
    }
  }

  /** The messages a new viewer gets, oldest first: live actors older than the ring, then the ring. */
  messages(): string[] {
    const ring = [...this.#recent.slice(this.#head), ...this.#recent.slice(0, this.#head)];
    const firstInRing = ring[0]?.seq ?? Infinity;
    const out: string[] = [];
    for (const group of this.#byName.values()) {
      for (const actor of group.values()) {
        if (actor.announcement.seq < firstInRing) out.push(actor.announcement.text);
        if (actor.snapshot && actor.snapshot.seq < firstInRing) out.push(actor.snapshot.text);
      }
    }
    for (const entry of ring) out.push(entry.text);
    return out;
  }

  #announce(sessionId: string, name: string, announcement: Entry): void {
    const known = this.#bySession.get(sessionId);
    if (known) this.#forget(sessionId, known);
    let group = this.#byName.get(name);
    if (!group) this.#byName.set(name, (group = new Map()));
    const actor: LiveActor = { name, announcement, snapshot: null };
    group.set(sessionId, actor);
    this.#bySession.set(sessionId, actor);
    if (this.#bySession.size <= this.limit) return;
    // Evict the oldest of this actor's own crowd, or of the largest crowd for a new name.
    let crowd = group;
    if (crowd.size === 1) for (const other of this.#byName.values()) if (other.size > crowd.size) crowd = other;
    const oldest = crowd.entries().next().value;
    if (oldest) this.#forget(oldest[0], oldest[1]);
  }

  #forget(sessionId: string, actor: LiveActor): void {
    this.#bySession.delete(sessionId);
    const group = this.#byName.get(actor.name);
    group?.delete(sessionId);
    if (group?.size === 0) this.#byName.delete(actor.name);
  }
}
