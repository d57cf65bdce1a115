/**
 * The connection statechart as a test model, with no sockets: path generation with
 * `xstate/graph`, the machine's own list of states and transitions, and the coverage of a
 * set of paths against it. What a client does for each event lives in `client-actions.ts`;
 * running the paths against a live server lives in `live-harness.ts`.
 */
import { initialTransition, type SnapshotFrom, transition } from "xstate";
import { getShortestPaths, getStateNodes, toDirectedGraph, type DirectedGraphNode } from "xstate/graph";
import {
  type ConnectionEvent,
  type ConnectionInput,
  type ConnectionMachine,
  connectionMachine,
  connectionPhaseOf,
  connectionStateOf,
} from "../../machines/connection.machine.js";
import { type HandshakeMode, type WireProtocol } from "../../src/protocol/wire.js";

export type ConnectionSnapshot = SnapshotFrom<ConnectionMachine>;
/**
 * Where a client finds the connection: its phase (`connectionPhaseOf`), with `reading` split
 * into the two login states a client can tell apart.
 */
export type ModelState = "header" | "ready" | "authenticated" | "paused" | "afterQueue" | "afterReply" | "lingering" | "closed";

/** The delayed transitions, as XState names their events (read from the machine). */
export const HEADER_TIMEOUT_EVENT: string = connectionMachine.getStateNodeById("connection.header").after[0]?.eventType ?? "(no after)";
export const LINGER_TIMEOUT_EVENT: string = connectionMachine.getStateNodeById("connection.lingering").after[0]?.eventType ?? "(no after)";

/** An event the model can take: the machine's own, or one of its `after` timers. */
export type ModelEvent = ConnectionEvent | { readonly type: typeof HEADER_TIMEOUT_EVENT } | { readonly type: typeof LINGER_TIMEOUT_EVENT };

/** Servers the paths run on: one per handshake mode, and one with an idle timeout. */
export type ServerProfile = HandshakeMode | "idle";

/**
 * One thing a real client does, and the machine event it must cause. `drive` gets the
 * live session (a type parameter, so this file stays free of sockets).
 */
export interface ClientAction<Session = unknown> {
  /** What the client does, as it reads in a test name. */
  readonly label: string;
  readonly event: ModelEvent;
  /** The handshake modes in which a client can do this. */
  readonly modes: readonly HandshakeMode[];
  /** The model states in which a client can do this. */
  readonly states: readonly Exclude<ModelState, "closed">[];
  /** The protocols it is spoken in (default: all). */
  readonly protocols?: readonly WireProtocol[];
  /** Needs the server with an idle timeout. */
  readonly needsIdleTimeout?: boolean;
  /** Shuts its server down: the path gets a server of its own. */
  readonly needsOwnServer?: boolean;
  /** Offered only where this holds as well (to keep slow actions to one path). */
  readonly when?: (snapshot: ConnectionSnapshot) => boolean;
  /** Set when the live server is known not to follow the machine here: that path is a todo. */
  readonly knownBug?: string;
  readonly drive: (session: Session) => Promise<void>;
}

export interface ModelStep<Session = unknown> {
  /** Null for the initial state. */
  readonly action: ClientAction<Session> | null;
  readonly before: ConnectionSnapshot | null;
  readonly after: ConnectionSnapshot;
  /** Keys (see {@link transitionKey}) of the machine transitions this step takes. */
  readonly transitions: readonly string[];
}

export interface ModelPath<Session = unknown> {
  readonly mode: HandshakeMode;
  readonly profile: ServerProfile;
  /** The path shuts its server down, so it runs on one of its own. */
  readonly ownServer: boolean;
  readonly name: string;
  readonly steps: readonly ModelStep<Session>[];
  readonly knownBug: string | undefined;
}

const ALL_PROTOCOLS: readonly WireProtocol[] = ["text", "resp2", "resp3"];

/** A placeholder supervisor: the explorer and `transition()` never execute the actions that send to it. */
const NO_SUPERVISOR = { id: "model-supervisor" } as unknown as ConnectionInput["supervisor"];

export function modelStateOf(snapshot: ConnectionSnapshot): ModelState {
  const phase = connectionPhaseOf(snapshot);
  return phase === "reading" ? (connectionStateOf(snapshot) as "ready" | "authenticated") : phase;
}

/** The part of a snapshot that decides what a client sees: the state, the login, the protocol, why it closes. */
function abstractState(snapshot: ConnectionSnapshot): string {
  const { protocol, closeReason } = snapshot.context;
  const state = modelStateOf(snapshot);
  const login = state === "paused" || state === "afterQueue" || state === "afterReply" ? `:${connectionStateOf(snapshot)}` : "";
  return `${state}${login}/${protocol}${closeReason ? `/${closeReason}` : ""}`;
}

/**
 * Vertices are (state, event that led there, state it came from): every edge becomes a
 * vertex of its own, so shortest paths to every vertex take every edge once, self-loops
 * (COMMANDS, a second LOGIN, HELLO 2 on RESP2) included: each edge is the last step of one
 * shortest path. The rest of the context (an actor reference, the header, the user) stays
 * out, which keeps the state space small and finite; `generatePaths` replays each path to
 * get the snapshots its checks compare with.
 */
function serializeVertex(snapshot: ConnectionSnapshot, event: ModelEvent | undefined, previous?: ConnectionSnapshot): string {
  const here = abstractState(snapshot);
  return event && previous ? `${here} via ${JSON.stringify(event)} from ${abstractState(previous)}` : here;
}

function offers<Session>(action: ClientAction<Session>, mode: HandshakeMode, snapshot: ConnectionSnapshot): boolean {
  if (snapshot.status !== "active") return false;
  const state = modelStateOf(snapshot);
  return (
    state !== "closed" &&
    action.modes.includes(mode) &&
    action.states.includes(state) &&
    (action.protocols ?? ALL_PROTOCOLS).includes(snapshot.context.protocol) &&
    (action.when?.(snapshot) ?? true) &&
    snapshot.can(action.event as ConnectionEvent)
  );
}

/** A stable name for one transition definition: source, event, and which branch of that event. */
export function transitionKey(transition: { source: { id: string; transitions: Map<string, readonly unknown[]> }; eventType: string }): string {
  const branch = transition.source.transitions.get(transition.eventType)?.indexOf(transition) ?? -1;
  return `${transition.source.id}:${transition.eventType}#${branch}`;
}

/** The keys of the transitions `machine` takes from `snapshot` on `event`. */
export function transitionsTaken(machine: ConnectionMachine, snapshot: ConnectionSnapshot, event: ModelEvent): string[] {
  return machine.getTransitionData(snapshot, event as ConnectionEvent).map((t) => transitionKey(t));
}

/**
 * Paths through `machine` in handshake `mode` that together take every (state, client
 * action) edge, deduplicated: a path that is the start of a longer one is dropped. Outside
 * `auto`, exploration stops once the handshake is over (what follows does not depend on it).
 */
export function generatePaths<Session>(
  actions: readonly ClientAction<Session>[],
  mode: HandshakeMode,
  options: { headerTimeout: number; maxHeaderSize: number; lingerTimeout: number; machine?: ConnectionMachine },
): ModelPath<Session>[] {
  const machine = options.machine ?? connectionMachine;
  const byEvent = new Map<ModelEvent, ClientAction<Session>>(actions.map((action) => [action.event, action]));
  if (byEvent.size !== actions.length) throw new Error("each client action needs an event object of its own: paths find their action by it");
  const input: ConnectionInput = {
    id: "model",
    handshake: mode,
    maxHeaderSize: options.maxHeaderSize,
    headerTimeout: options.headerTimeout,
    lingerTimeout: options.lingerTimeout,
    supervisor: NO_SUPERVISOR,
  };
  const paths = getShortestPaths(machine, {
    input,
    events: (snapshot) => actions.filter((action) => offers(action, mode, snapshot)).map((action) => action.event as ConnectionEvent),
    serializeState: serializeVertex,
    stopWhen: mode === "auto" ? undefined : (snapshot) => !snapshot.matches("header"),
    limit: 20_000,
  });

  const built = paths.map((path): ModelPath<Session> => {
    // The explorer keeps one snapshot per vertex, and vertices leave out the context's
    // header and user: replaying the path's events on the machine gives the snapshots
    // this very path produces, for the checks to compare with.
    let [snapshot] = initialTransition(machine, input);
    const steps: ModelStep<Session>[] = [{ action: null, before: null, after: snapshot, transitions: [] }];
    for (const { event } of path.steps.slice(1)) {
      const before = snapshot;
      [snapshot] = transition(machine, before, event);
      steps.push({ action: byEvent.get(event)!, before, after: snapshot, transitions: transitionsTaken(machine, before, event) });
    }
    const acted = steps.flatMap((step) => (step.action ? [step.action] : []));
    return {
      mode,
      profile: acted.some((action) => action.needsIdleTimeout) ? "idle" : mode,
      ownServer: acted.some((action) => action.needsOwnServer),
      name: `${mode}: ${acted.map((action) => action.label).join(" → ") || "connects"} ⇒ ${abstractState(snapshot)}`,
      steps,
      knownBug: acted.find((action) => action.knownBug)?.knownBug,
    };
  });
  return withoutPrefixes(built);
}

/** Drops every path whose actions are the start of another path's. */
function withoutPrefixes<Session>(paths: ModelPath<Session>[]): ModelPath<Session>[] {
  const longestFirst = [...paths].sort((a, b) => b.steps.length - a.steps.length);
  const kept: ModelPath<Session>[] = [];
  for (const path of longestFirst) {
    const isPrefix = kept.some((longer) => path.steps.every((step, i) => longer.steps[i]!.action === step.action));
    if (!isPrefix) kept.push(path);
  }
  // Shortest first, so the handshake paths read first; then by name, for a stable order.
  return kept.sort((a, b) => a.steps.length - b.steps.length || a.name.localeCompare(b.name));
}

export interface MachineTransition {
  readonly key: string;
  /** e.g. `header → closed on HEADER [otherwise]`. */
  readonly label: string;
  readonly eventType: string;
}

function shortId(id: string): string {
  return id.replace(/^connection\.?/, "") || "(root)";
}

/** Every transition of `machine`, from its directed graph. */
export function machineTransitions(machine: ConnectionMachine = connectionMachine): MachineTransition[] {
  const found = new Map<string, MachineTransition>();
  const walk = (node: DirectedGraphNode) => {
    for (const edge of node.edges) {
      const t = edge.transition;
      const key = transitionKey(t);
      const branch = Number(key.slice(key.lastIndexOf("#") + 1));
      const guard = t.guard ? `[${typeof t.guard === "string" ? t.guard : ((t.guard as { type?: string }).type ?? "guard")}]` : branch > 0 ? "[otherwise]" : "";
      const target = t.target ? t.target.map((n) => shortId(n.id)).join(",") : "itself";
      const event = t.eventType.startsWith("xstate.after.") ? `after ${t.eventType.split(".")[2]}` : t.eventType;
      found.set(key, { key, eventType: t.eventType, label: `${shortId(t.source.id)} → ${target} on ${event}${guard ? ` ${guard}` : ""}` });
    }
    for (const child of node.children) walk(child);
  };
  walk(toDirectedGraph(machine));
  return [...found.values()];
}

/** The ids of every state node of `machine` but the root. */
export function machineStates(machine: ConnectionMachine = connectionMachine): string[] {
  return getStateNodes(machine.root).map((node) => node.id);
}

type StateValue = string | { [key: string]: StateValue };

function valueOf(path: readonly string[]): StateValue {
  return path.length === 1 ? path[0]! : { [path[0]!]: valueOf(path.slice(1)) };
}

/** The ids of the state nodes `snapshot` is in (`connection.open` and `connection.open.ready`, say). */
export function statesOf(snapshot: ConnectionSnapshot, machine: ConnectionMachine = connectionMachine): string[] {
  return getStateNodes(machine.root)
    .filter((node) => snapshot.matches(valueOf(node.path) as Parameters<ConnectionSnapshot["matches"]>[0]))
    .map((node) => node.id);
}

export interface Coverage {
  readonly missingTransitions: readonly string[];
  readonly missingStates: readonly string[];
  /** `covered 10/10 transitions, 5/5 states`. */
  readonly summary: string;
}

export function coverageOf(taken: ReadonlySet<string>, entered: ReadonlySet<string>, machine: ConnectionMachine = connectionMachine): Coverage {
  const transitions = machineTransitions(machine);
  const states = machineStates(machine);
  const missingTransitions = transitions.filter((t) => !taken.has(t.key)).map((t) => t.label);
  const missingStates = states.filter((id) => !entered.has(id)).map(shortId);
  const summary =
    `covered ${transitions.length - missingTransitions.length}/${transitions.length} transitions, ` +
    `${states.length - missingStates.length}/${states.length} states`;
  return { missingTransitions, missingStates, summary };
}

/** What the given paths cover, as the model predicts it. */
export function plannedCoverage<Session>(paths: readonly ModelPath<Session>[], machine: ConnectionMachine = connectionMachine): Coverage {
  const taken = new Set(paths.flatMap((path) => path.steps.flatMap((step) => step.transitions)));
  const entered = new Set(paths.flatMap((path) => path.steps.flatMap((step) => statesOf(step.after, machine))));
  return coverageOf(taken, entered, machine);
}
