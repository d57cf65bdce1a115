import type { AnyStateMachine, AnyStateNode } from "xstate";

/**
 * A statechart read off a real machine object (`machine.root` and its state nodes), as plain
 * data: every renderer (Mermaid, DOT, the Stately source, JSON) draws from this one walk, so
 * no picture is ever a hand-written copy that can drift from the code.
 *
 * Order is the definition's order (state nodes and `on` keys keep insertion order), so the
 * same machine always gives the same chart.
 */

/** A named action, guard or actor reference, with its static params when it has any. */
export interface ChartRef {
  readonly type: string;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** What makes a transition fire. */
export type ChartTrigger =
  | { readonly kind: "event"; readonly event: string }
  /** `after: { headerTimeout: ... }`: a named delay or a number of milliseconds. */
  | { readonly kind: "after"; readonly delay: string | number; readonly event: string }
  /** `always`: eventless, taken as soon as its guard allows. */
  | { readonly kind: "always" }
  /** The state's own `onDone` (a final child state was reached). */
  | { readonly kind: "done"; readonly event: string }
  /** An invoked actor's `onDone`, `onError` or `onSnapshot`. */
  | { readonly kind: "invoke"; readonly invoke: string; readonly handler: "onDone" | "onError" | "onSnapshot"; readonly event: string };

export interface ChartTransition {
  /** Id of the state node that declares the transition. */
  readonly source: string;
  /** Target state ids; empty for a targetless transition (its actions run, the state stays). */
  readonly targets: readonly string[];
  readonly trigger: ChartTrigger;
  readonly guard?: ChartRef;
  readonly actions: readonly ChartRef[];
  readonly reenter: boolean;
}

export interface ChartInvoke {
  readonly id: string;
  /** The actor's name in `setup({ actors })`, or `(inline)` for logic given in place. */
  readonly src: string;
  readonly systemId?: string;
}

export interface ChartState {
  /** XState's id: the machine id and the path, dot-separated (`connection.open.ready`). */
  readonly id: string;
  readonly key: string;
  /** Keys from the root (empty for the root itself). */
  readonly path: readonly string[];
  readonly type: "atomic" | "compound" | "parallel" | "final" | "history";
  readonly history?: "shallow" | "deep";
  /** Key of the initial child of a compound state. */
  readonly initial?: string;
  readonly entry: readonly ChartRef[];
  readonly exit: readonly ChartRef[];
  readonly invoke: readonly ChartInvoke[];
  readonly transitions: readonly ChartTransition[];
  readonly states: readonly ChartState[];
  readonly description?: string;
}

export interface Chart {
  readonly id: string;
  readonly root: ChartState;
}

/** Walks a machine's state nodes into a chart. */
export function walkMachine(machine: AnyStateMachine): Chart {
  return { id: machine.id, root: walkNode(machine.root) };
}

/** Every state of the chart, depth first in definition order, the root first. */
export function allStates(chart: Chart): ChartState[] {
  const out: ChartState[] = [];
  const visit = (state: ChartState) => {
    out.push(state);
    state.states.forEach(visit);
  };
  visit(chart.root);
  return out;
}

/** The event types the chart reacts to (no `always`), in first-seen order. */
export function chartEvents(chart: Chart): string[] {
  const events = new Set<string>();
  for (const state of allStates(chart)) {
    for (const t of state.transitions) if (t.trigger.kind !== "always") events.add(t.trigger.event);
  }
  return [...events];
}

function walkNode(node: AnyStateNode): ChartState {
  const invoke: ChartInvoke[] = node.invoke.map((def) => ({
    id: def.id,
    src: typeof def.src === "string" ? def.src : "(inline)",
    ...(def.systemId !== undefined ? { systemId: def.systemId } : {}),
  }));
  const transitions: ChartTransition[] = [];
  for (const [eventType, definitions] of node.transitions) {
    for (const t of definitions) transitions.push(walkTransition(node, eventType, t, invoke));
  }
  for (const t of node.always ?? []) transitions.push(walkTransition(node, "", t, invoke, true));
  const initial = node.type === "compound" ? node.initial.target[0]?.key : undefined;
  return {
    id: node.id,
    key: node.key,
    path: [...node.path],
    type: node.type,
    ...(node.type === "history" && node.history ? { history: node.history } : {}),
    ...(initial !== undefined ? { initial } : {}),
    entry: refs(node.entry),
    exit: refs(node.exit),
    invoke,
    transitions,
    states: Object.values(node.states).map((child) => walkNode(child)),
    ...(node.description ? { description: node.description } : {}),
  };
}

interface TransitionLike {
  readonly target?: readonly AnyStateNode[] | undefined;
  readonly guard?: unknown;
  readonly actions: readonly unknown[];
  readonly reenter: boolean;
  readonly delay?: unknown;
}

function walkTransition(node: AnyStateNode, eventType: string, t: TransitionLike, invoke: readonly ChartInvoke[], always = false): ChartTransition {
  const guard = t.guard === undefined ? undefined : guardRef(t.guard);
  return {
    source: node.id,
    targets: (t.target ?? []).map((target) => target.id),
    trigger: always ? { kind: "always" } : triggerOf(node, eventType, t.delay, invoke),
    ...(guard ? { guard } : {}),
    actions: refs(t.actions),
    reenter: t.reenter,
  };
}

/** Tells XState's generated event types (`xstate.after.*`, `xstate.done.*`) from the user's. */
function triggerOf(node: AnyStateNode, event: string, delay: unknown, invoke: readonly ChartInvoke[]): ChartTrigger {
  if (typeof delay === "string" || typeof delay === "number") return { kind: "after", delay, event };
  if (event === `xstate.done.state.${node.id}`) return { kind: "done", event };
  for (const { id } of invoke) {
    if (event === `xstate.done.actor.${id}`) return { kind: "invoke", invoke: id, handler: "onDone", event };
    if (event === `xstate.error.actor.${id}`) return { kind: "invoke", invoke: id, handler: "onError", event };
    if (event === `xstate.snapshot.${id}`) return { kind: "invoke", invoke: id, handler: "onSnapshot", event };
  }
  return { kind: "event", event };
}

/**
 * Named actions by name. XState adds its own `raise`/`cancel` to states with `after` (the
 * delayed event's timer); those are the `after` transition itself, so they are left out.
 */
function refs(actions: readonly unknown[]): ChartRef[] {
  const out: ChartRef[] = [];
  for (const action of actions) {
    if (typeof action === "function" && isDelayTimer(action as { type?: unknown; id?: unknown; sendId?: unknown })) continue;
    const ref = namedRef(action);
    if (ref) out.push(ref);
  }
  return out;
}

function isDelayTimer(action: { type?: unknown; id?: unknown; sendId?: unknown }): boolean {
  const timerId = action.type === "xstate.raise" ? action.id : action.type === "xstate.cancel" ? action.sendId : undefined;
  return typeof timerId === "string" && timerId.startsWith("xstate.after.");
}

function namedRef(value: unknown): ChartRef | undefined {
  if (typeof value === "string") return { type: value };
  if (typeof value === "function") {
    const fn = value as { type?: unknown; name: string };
    // Built-in action creators used inline (`assign(...)`) carry `type: "xstate.assign"`.
    return { type: typeof fn.type === "string" ? fn.type : fn.name || "(inline)" };
  }
  if (value && typeof value === "object" && typeof (value as { type?: unknown }).type === "string") {
    const { type, params } = value as { type: string; params?: unknown };
    return params && typeof params === "object" ? { type, params: params as Record<string, unknown> } : { type };
  }
  return undefined;
}

/** Guards by name; `and`/`or`/`not` combinators are spelled out (`and(a, not(b))`). */
function guardRef(guard: unknown): ChartRef | undefined {
  if (typeof guard === "function") {
    const combinator = guard as { name: string; guards?: unknown };
    if (Array.isArray(combinator.guards)) {
      const inner = combinator.guards.map((g) => guardRef(g)?.type ?? "(inline)");
      return { type: `${combinator.name}(${inner.join(", ")})` };
    }
  }
  return namedRef(guard);
}
