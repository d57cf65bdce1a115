import { allStates, type Chart, type ChartRef, type ChartState, type ChartTransition } from "./walk.js";

/**
 * A chart back as a plain `createMachine` config: states, transitions, and actions, guards,
 * delays and actors by name, with no functions. It is the `json` format as it stands, and the
 * body of the `stately` source; `createMachine(config)` gives a machine with the same states
 * and transitions as the one it was walked from (its implementations stay in the machine file).
 */

/** JSON data. */
export type ConfigValue = string | number | boolean | null | readonly ConfigValue[] | { readonly [key: string]: ConfigValue };
export type ConfigObject = { [key: string]: ConfigValue };

export function toMachineConfig(chart: Chart): ConfigObject {
  const byId = new Map(allStates(chart).map((state) => [state.id, state]));
  return { id: chart.id, ...stateConfig(chart.root, byId) };
}

/** The `json` format: the config, two-space indented. */
export function toJson(chart: Chart): string {
  return `${JSON.stringify(toMachineConfig(chart), null, 2)}\n`;
}

function stateConfig(state: ChartState, byId: ReadonlyMap<string, ChartState>): ConfigObject {
  const config: ConfigObject = {};
  if (state.description !== undefined) config.description = state.description;
  if (state.type === "final" || state.type === "parallel" || state.type === "history") config.type = state.type;
  if (state.history !== undefined) config.history = state.history;
  if (state.initial !== undefined) config.initial = state.initial;
  if (state.entry.length > 0) config.entry = actionsConfig(state.entry);
  if (state.exit.length > 0) config.exit = actionsConfig(state.exit);

  const on: Record<string, ConfigObject[]> = {};
  const after: Record<string, ConfigObject[]> = {};
  const always: ConfigObject[] = [];
  const onDone: ConfigObject[] = [];
  const invokeHandlers = new Map<string, Record<string, ConfigObject[]>>();
  for (const t of state.transitions) {
    const tc = transitionConfig(t, state, byId);
    const trigger = t.trigger;
    if (trigger.kind === "event") (on[trigger.event] ??= []).push(tc);
    else if (trigger.kind === "after") (after[String(trigger.delay)] ??= []).push(tc);
    else if (trigger.kind === "always") always.push(tc);
    else if (trigger.kind === "done") onDone.push(tc);
    else {
      const handlers = invokeHandlers.get(trigger.invoke) ?? {};
      (handlers[trigger.handler] ??= []).push(tc);
      invokeHandlers.set(trigger.invoke, handlers);
    }
  }
  if (state.invoke.length > 0) {
    const invokes = state.invoke.map((def): ConfigObject => {
      const handlers = invokeHandlers.get(def.id) ?? {};
      const entries = Object.entries(handlers).map(([name, list]) => [name, oneOrMany(list)] as const);
      return { id: def.id, src: def.src, ...(def.systemId !== undefined ? { systemId: def.systemId } : {}), ...Object.fromEntries(entries) };
    });
    config.invoke = oneOrMany(invokes);
  }
  if (Object.keys(on).length > 0) config.on = mapValues(on, oneOrMany);
  if (Object.keys(after).length > 0) config.after = mapValues(after, oneOrMany);
  if (always.length > 0) config.always = oneOrMany(always);
  if (onDone.length > 0) config.onDone = oneOrMany(onDone);
  if (state.states.length > 0) {
    config.states = Object.fromEntries(state.states.map((child) => [child.key, stateConfig(child, byId)]));
  }
  return config;
}

function transitionConfig(t: ChartTransition, source: ChartState, byId: ReadonlyMap<string, ChartState>): ConfigObject {
  const config: ConfigObject = {};
  const targets = t.targets.map((id) => {
    const target = byId.get(id);
    return target ? relativeTarget(source, target) : `#${id}`;
  });
  if (targets.length > 0) config.target = oneOrMany(targets);
  if (t.guard) config.guard = refConfig(t.guard);
  if (t.actions.length > 0) config.actions = actionsConfig(t.actions);
  if (t.reenter) config.reenter = true;
  return config;
}

/** `.child` for a child, `sibling` for a sibling, `#id` for anything else: how one writes them by hand. */
function relativeTarget(source: ChartState, target: ChartState): string {
  const parentPath = target.path.slice(0, -1);
  const sameParent = (path: readonly string[]) => path.length === parentPath.length && path.every((key, i) => parentPath[i] === key);
  if (sameParent(source.path)) return `.${target.key}`;
  if (source.path.length > 0 && sameParent(source.path.slice(0, -1))) return target.key;
  return `#${target.id}`;
}

function actionsConfig(actions: readonly ChartRef[]): ConfigValue {
  return oneOrMany(actions.map(refConfig));
}

function refConfig(ref: ChartRef): ConfigValue {
  return ref.params ? { type: ref.type, params: ref.params as ConfigObject } : ref.type;
}

function oneOrMany<T extends ConfigValue>(list: readonly T[]): T | readonly T[] {
  return list.length === 1 ? list[0]! : list;
}

function mapValues<T, U>(record: Record<string, T>, fn: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}
