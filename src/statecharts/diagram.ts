import { stateActivityLines, transitionText } from "./label.js";
import { allStates, type Chart, type ChartState } from "./walk.js";

/**
 * Where each piece of a chart goes in a drawing, decided once for both Mermaid and DOT:
 *
 * - a transition is drawn inside the innermost state that contains both its ends, so
 *   `ready → authenticated` sits inside `open` and `header → open` at the top level;
 * - a machine-level transition with a target (`CLOSE` from any state) is drawn from each
 *   top-level state that is not final, which is what it means;
 * - a targetless transition (actions only, the state stays) is a self-loop on an atomic
 *   state, and a note line on a compound state or the machine, where a loop would not read;
 * - entry, exit and invoke go beside the state: in an atomic state's box, in the note of a
 *   compound state or the machine.
 */

export interface DiagramEdge {
  readonly from: ChartState;
  readonly to: ChartState;
  readonly label: string;
}

export interface Diagram {
  readonly chart: Chart;
  /** Each state id's name in the drawing: unique, and a plain identifier. */
  readonly names: ReadonlyMap<string, string>;
  /** Edges by the id of the state (or machine) they are drawn inside, in definition order. */
  readonly edgesIn: ReadonlyMap<string, readonly DiagramEdge[]>;
  /** Lines beside each state (and the machine, under the root's id); atomic states get no targetless lines here. */
  readonly notes: ReadonlyMap<string, readonly string[]>;
}

/** Words that Mermaid's state-diagram grammar reads as syntax, so never used as a bare name. */
const RESERVED = new Set(["state", "note", "end", "as", "direction", "class", "classDef", "style", "left", "right", "of", "hide", "scale"]);

export function layoutChart(chart: Chart): Diagram {
  const states = allStates(chart);
  const byId = new Map(states.map((state) => [state.id, state]));
  const edgesIn = new Map<string, DiagramEdge[]>();
  const notes = new Map<string, string[]>();
  const addEdge = (containerId: string, edge: DiagramEdge) => {
    const list = edgesIn.get(containerId) ?? [];
    list.push(edge);
    edgesIn.set(containerId, list);
  };

  // The machine's own transitions last, so each state's own edges come before `CLOSE from anywhere`.
  for (const state of [...states.slice(1), chart.root]) {
    const drawnAsBox = state.states.length === 0 && state !== chart.root;
    const lines = stateActivityLines(state);
    for (const t of state.transitions) {
      const label = transitionText(t);
      if (t.targets.length === 0) {
        if (drawnAsBox) addEdge(containerOf(chart, state, state), { from: state, to: state, label });
        else lines.push(label);
        continue;
      }
      for (const targetId of t.targets) {
        const target = byId.get(targetId);
        if (!target) continue;
        if (state === chart.root) {
          for (const from of chart.root.states) {
            if (from.type !== "final") addEdge(chart.root.id, { from, to: target, label });
          }
        } else {
          addEdge(containerOf(chart, state, target), { from: state, to: target, label });
        }
      }
    }
    if (lines.length > 0) notes.set(state.id, lines);
  }
  return { chart, names: nameStates(states.filter((s) => s !== chart.root)), edgesIn, notes };
}

/** The innermost state that properly contains both ends (the machine for top-level states). */
function containerOf(chart: Chart, a: ChartState, b: ChartState): string {
  let depth = 0;
  while (depth < a.path.length && depth < b.path.length && a.path[depth] === b.path[depth]) depth++;
  depth = Math.min(depth, a.path.length - 1, b.path.length - 1);
  let container = chart.root;
  for (const key of a.path.slice(0, depth)) container = container.states.find((s) => s.key === key) ?? container;
  return container.id;
}

/** A state's key when it is unique and a plain identifier; its path joined with `_` otherwise. */
function nameStates(states: readonly ChartState[]): Map<string, string> {
  const keyCount = new Map<string, number>();
  for (const state of states) keyCount.set(state.key, (keyCount.get(state.key) ?? 0) + 1);
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const state of states) {
    let name = state.key;
    if (keyCount.get(name) !== 1 || !/^[A-Za-z][A-Za-z0-9_]*$/.test(name) || RESERVED.has(name)) {
      name = `s_${state.path.join("_").replace(/[^A-Za-z0-9_]/g, "_")}`;
    }
    while (taken.has(name)) name += "_";
    taken.add(name);
    names.set(state.id, name);
  }
  return names;
}
