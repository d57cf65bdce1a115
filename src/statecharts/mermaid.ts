import { type Diagram, type DiagramEdge, layoutChart } from "./diagram.js";
import type { Chart, ChartState } from "./walk.js";

/**
 * A Mermaid `stateDiagram-v2` of a chart. Compound states are `state open { ... }` blocks,
 * parallel regions are separated by `--`, initial and final states are `[*]`. Each state's
 * outgoing edges follow the state, in definition order, so the text reads top to bottom like
 * the machine file and the same machine always gives the same text.
 */
export function toMermaid(chart: Chart): string {
  const diagram = layoutChart(chart);
  const out = ["stateDiagram-v2"];
  writeContents(diagram, chart.root, 1, out);
  const machineNotes = diagram.notes.get(chart.root.id);
  const first = chart.root.states.find((s) => s.key === chart.root.initial) ?? chart.root.states[0];
  if (machineNotes && first) writeNote(out, 1, `left of ${nameOf(diagram, first)}`, [`machine ${chart.id}`, ...machineNotes]);
  return `${out.join("\n")}\n`;
}

/** The inside of the machine or of a compound or parallel state. */
function writeContents(diagram: Diagram, container: ChartState, depth: number, out: string[]): void {
  const pad = "  ".repeat(depth);
  const initial = container.states.find((s) => s.key === container.initial);
  if (initial) out.push(`${pad}[*] --> ${nameOf(diagram, initial)}`);
  const edges = diagram.edgesIn.get(container.id) ?? [];
  container.states.forEach((child, index) => {
    if (container.type === "parallel" && index > 0) out.push(`${pad}--`);
    writeState(diagram, child, depth, out);
    for (const edge of edges.filter((e) => startsIn(e, child))) out.push(`${pad}${edgeLine(diagram, edge)}`);
    if (child.type === "final") out.push(`${pad}${nameOf(diagram, child)} --> [*]`);
  });
}

function writeState(diagram: Diagram, state: ChartState, depth: number, out: string[]): void {
  const pad = "  ".repeat(depth);
  const name = nameOf(diagram, state);
  if (name !== state.key) out.push(`${pad}state "${escape(state.key)}" as ${name}`);
  const notes = diagram.notes.get(state.id) ?? [];
  if (state.states.length === 0) {
    for (const line of notes) out.push(`${pad}${name} : ${escape(line)}`);
    return;
  }
  out.push(`${pad}state ${name} {`);
  writeContents(diagram, state, depth + 1, out);
  out.push(`${pad}}`);
  if (notes.length > 0) writeNote(out, depth, `right of ${name}`, notes);
}

function writeNote(out: string[], depth: number, where: string, lines: readonly string[]): void {
  const pad = "  ".repeat(depth);
  out.push(`${pad}note ${where}`, ...lines.map((line) => `${pad}  ${escape(line)}`), `${pad}end note`);
}

function edgeLine(diagram: Diagram, edge: DiagramEdge): string {
  return `${nameOf(diagram, edge.from)} --> ${nameOf(diagram, edge.to)} : ${escape(edge.label)}`;
}

/** True when the edge leaves `state` or one of its descendants. */
function startsIn(edge: DiagramEdge, state: ChartState): boolean {
  return state.path.every((key, i) => edge.from.path[i] === key);
}

function nameOf(diagram: Diagram, state: ChartState): string {
  return diagram.names.get(state.id) ?? state.key;
}

/**
 * Mermaid's entity codes for the characters its state grammar reads as syntax (`:` ends a
 * label in older renderers such as GitHub's, `;` ends a statement, `#` starts a code).
 */
function escape(text: string): string {
  return text.replace(/[#:;"]/g, (c) => ENTITY_CODES[c] ?? c);
}

const ENTITY_CODES: Readonly<Record<string, string>> = { "#": "#35;", ":": "#58;", ";": "#59;", '"': "#quot;" };
