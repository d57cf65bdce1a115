import { type Diagram, type DiagramEdge, layoutChart } from "./diagram.js";
import { allStates, type Chart, type ChartState } from "./walk.js";

/**
 * Graphviz DOT for a chart, from the same layout as the Mermaid text. Compound and parallel
 * states are clusters (`subgraph cluster_...`) labelled with their name and notes; the
 * machine's own notes are the graph's label. Graphviz edges join nodes, not clusters, so each
 * cluster has an anchor node (its initial dot, or an invisible point for a parallel state)
 * and an edge to or from the state is drawn to the anchor, clipped at the cluster's border
 * (`lhead`/`ltail`).
 */
export function toDot(chart: Chart): string {
  const diagram = layoutChart(chart);
  const out = [`digraph ${quote(chart.id)} {`];
  const title = [chart.id, ...(diagram.notes.get(chart.root.id) ?? [])];
  out.push(
    `  graph [compound=true, fontname="Helvetica", fontsize=12, labelloc=t, nodesep=0.5, ranksep=0.45, label=${quote(title.join("\n"))}];`,
    `  node [shape=box, style=rounded, fontname="Helvetica", fontsize=11, margin="0.15,0.06"];`,
    `  edge [fontname="Helvetica", fontsize=9];`,
  );
  writeContents(diagram, chart.root, 1, out);
  for (const state of allStates(chart)) {
    for (const edge of mergeSelfLoops(diagram.edgesIn.get(state.id) ?? [])) out.push(`  ${edgeStatement(edge)}`);
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}

function writeContents(diagram: Diagram, container: ChartState, depth: number, out: string[]): void {
  const pad = "  ".repeat(depth);
  if (container.states.length > 0) {
    const anchor = quote(anchorOf(container));
    out.push(`${pad}${anchor} [shape=point, width=0.12, label=""${container.initial ? "" : ", style=invis"}];`);
    const initial = container.states.find((s) => s.key === container.initial);
    if (initial) out.push(`${pad}${anchor} -> ${quote(nodeOf(initial))}${initial.states.length > 0 ? ` [lhead=${quote(clusterOf(initial))}]` : ""};`);
  }
  for (const child of container.states) writeState(diagram, child, depth, out);
}

function writeState(diagram: Diagram, state: ChartState, depth: number, out: string[]): void {
  const pad = "  ".repeat(depth);
  const label = [state.key, ...(diagram.notes.get(state.id) ?? [])].join("\n");
  if (state.states.length === 0) {
    const final = state.type === "final" ? ", peripheries=2" : "";
    out.push(`${pad}${quote(state.id)} [label=${quote(label)}${final}];`);
    return;
  }
  const dashed = state.type === "parallel" ? ', style="rounded,dashed"' : ', style="rounded"';
  out.push(`${pad}subgraph ${quote(clusterOf(state))} {`, `${pad}  graph [label=${quote(label)}${dashed}];`);
  writeContents(diagram, state, depth + 1, out);
  out.push(`${pad}}`);
}

/**
 * One loop per state, its label a line per transition: Graphviz stacks several loops on one
 * node with their labels on top of each other.
 */
function mergeSelfLoops(edges: readonly DiagramEdge[]): DiagramEdge[] {
  const out: DiagramEdge[] = [];
  const loops = new Map<ChartState, DiagramEdge[]>();
  for (const edge of edges) {
    if (edge.from !== edge.to) {
      out.push(edge);
      continue;
    }
    const same = loops.get(edge.from);
    if (same) same.push(edge);
    else {
      loops.set(edge.from, [edge]);
      out.push(edge);
    }
  }
  return out.map((edge) => {
    const same = edge.from === edge.to ? (loops.get(edge.from) ?? []) : [];
    return same.length > 1 ? { ...edge, label: same.map((e) => e.label).join("\n") } : edge;
  });
}

function edgeStatement(edge: DiagramEdge): string {
  // A single transition's actions go on a line of their own: Graphviz lays labels out as
  // given, and one long line per edge pushes the edges far apart.
  const label = edge.label.includes("\n") ? edge.label : edge.label.replace(" / ", "\n/ ");
  const attributes = [`label=${quote(label)}`];
  const fromCluster = edge.from.states.length > 0;
  const toCluster = edge.to.states.length > 0;
  if (fromCluster && !contains(edge.from, edge.to)) attributes.push(`ltail=${quote(clusterOf(edge.from))}`);
  if (toCluster && !contains(edge.to, edge.from)) attributes.push(`lhead=${quote(clusterOf(edge.to))}`);
  return `${quote(nodeOf(edge.from))} -> ${quote(nodeOf(edge.to))} [${attributes.join(", ")}];`;
}

/** True when `inner` is `outer` or nested in it. */
function contains(outer: ChartState, inner: ChartState): boolean {
  return outer.path.every((key, i) => inner.path[i] === key);
}

/** The node that stands for a state in edges: itself, or a compound state's anchor. */
function nodeOf(state: ChartState): string {
  return state.states.length > 0 ? anchorOf(state) : state.id;
}

function anchorOf(state: ChartState): string {
  return `${state.id}.[*]`;
}

function clusterOf(state: ChartState): string {
  return `cluster_${state.id}`;
}

/** A DOT quoted string; `\n` in the text becomes DOT's centred line break. */
function quote(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}
