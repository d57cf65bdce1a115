// Heap snapshot diffs for bench/heap-diff.mjs and bench/actor-heap.mjs: what grew between two
// snapshots of one process, by node type and constructor, and the new objects by what holds them.
import v8 from "node:v8";
import path from "node:path";
import { readFileSync, rmSync } from "node:fs";

export function writeSnapshot(dir, name) {
  globalThis.gc();
  globalThis.gc();
  return v8.writeHeapSnapshot(path.join(dir, `${name}.heapsnapshot`));
}

export function readSnapshot(file) {
  const raw = JSON.parse(readFileSync(file, "utf8"));
  rmSync(file);
  const meta = raw.snapshot.meta;
  const nf = meta.node_fields;
  const ef = meta.edge_fields;
  return {
    raw,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    N: nf.length,
    E: ef.length,
    type: nf.indexOf("type"),
    name: nf.indexOf("name"),
    id: nf.indexOf("id"),
    size: nf.indexOf("self_size"),
    edgeCount: nf.indexOf("edge_count"),
    edgeType: ef.indexOf("type"),
    edgeName: ef.indexOf("name_or_index"),
    edgeTo: ef.indexOf("to_node"),
  };
}

export function idsOf(s) {
  const nodes = s.raw.nodes;
  const ids = new Set();
  for (let i = 0; i < nodes.length; i += s.N) ids.add(nodes[i + s.id]);
  return ids;
}

function nodeKey(s, i) {
  const nodes = s.raw.nodes;
  const type = s.nodeTypes[nodes[i + s.type]];
  let name = s.raw.strings[nodes[i + s.name]];
  // A string's "name" is its content: what matters is that it is a string.
  if (type === "string" || type === "concatenated string" || type === "sliced string") name = "";
  else name = name.replace(/\s+/g, " ").slice(0, 50);
  return name ? `${type}: ${name}` : `(${type})`;
}

export function totalsByKey(s) {
  const nodes = s.raw.nodes;
  const totals = new Map();
  for (let i = 0; i < nodes.length; i += s.N) {
    const key = nodeKey(s, i);
    const entry = totals.get(key) ?? [0, 0];
    entry[0]++;
    entry[1] += nodes[i + s.size];
    totals.set(key, entry);
  }
  return totals;
}

/** Plain holders that say nothing about whose an object is: the walk goes on past them. */
const GENERIC = new Set(["Object", "Array", "system / Context", "(object properties)", "(object elements)", "system / PropertyArray"]);

/**
 * For every node (by index), the index of its first retainer over a strong edge, and that
 * edge's name (-1 when none).
 */
function firstRetainers(s) {
  const { nodes, edges, strings } = s.raw;
  const count = nodes.length / s.N;
  const retainer = new Int32Array(count).fill(-1);
  const edgeOf = new Int32Array(count).fill(-1);
  let e = 0;
  for (let i = 0; i < nodes.length; i += s.N) {
    const from = i / s.N;
    const fromType = s.nodeTypes[nodes[i + s.type]];
    const skipFrom = fromType === "synthetic";
    for (let k = nodes[i + s.edgeCount]; k > 0; k--, e += s.E) {
      const edgeType = s.edgeTypes[edges[e + s.edgeType]];
      if (skipFrom || edgeType === "weak" || edgeType === "shortcut") continue;
      const to = edges[e + s.edgeTo] / s.N;
      if (retainer[to] !== -1) continue;
      retainer[to] = from;
      edgeOf[to] = e;
    }
  }
  const edgeLabel = (edgeIndex) => {
    const type = s.edgeTypes[edges[edgeIndex + s.edgeType]];
    const nameOrIndex = edges[edgeIndex + s.edgeName];
    if (type === "element" || type === "hidden") return "[]";
    return strings[nameOrIndex];
  };
  return { retainer, edgeOf, edgeLabel };
}

/** The nearest named owner of node `index`, and the edge path from it: `Connection.#actor._snapshot`. */
function ownerOf(s, ret, index) {
  const nodes = s.raw.nodes;
  const steps = [];
  let current = index;
  for (let depth = 0; depth < 8; depth++) {
    const up = ret.retainer[current];
    if (up === -1) break;
    const label = ret.edgeLabel(ret.edgeOf[current]);
    if (steps[0] !== label || label !== "[]") steps.unshift(label);
    current = up;
    const i = up * s.N;
    const type = s.nodeTypes[nodes[i + s.type]];
    const name = s.raw.strings[nodes[i + s.name]];
    if ((type === "object" || type === "closure" || type === "native") && !GENERIC.has(name)) {
      return `${type === "object" ? "" : `${type} `}${name.slice(0, 40)}.${steps.join(".")}`;
    }
  }
  const i = current * s.N;
  return `${nodeKey(s, i)}…${steps.join(".")}`;
}

export function printTables(b, beforeIds, after, opened, top, unit = "conn") {
  const fmt = (value) => value.toFixed(1);
  // Net growth by type and constructor (what was freed counts against what was made).
  const rows = [];
  for (const [key, [count, size]] of totalsByKey(after)) {
    const [count0, size0] = b.get(key) ?? [0, 0];
    const bytes = (size - size0) / opened;
    if (bytes > 1) rows.push([key, bytes, (count - count0) / opened]);
  }
  rows.sort((x, y) => y[1] - x[1]);
  const total = rows.reduce((sum, row) => sum + row[1], 0);
  // Embedder nodes (a socket's C++ wrap) are memory outside the JS heap: not in heapUsed.
  const outside = rows.filter(([key]) => key.startsWith("synthetic:") || key.startsWith("native:")).reduce((sum, row) => sum + row[1], 0);
  console.log(`\n### Net growth by node type and constructor (rows > 1 B/${unit})\n`);
  console.log(`| B/${unit} | objects/${unit} | node |`);
  console.log("|---:|---:|---|");
  for (const [key, bytes, count] of rows.slice(0, top)) console.log(`| ${fmt(bytes)} | ${count.toFixed(2)} | ${key.replace(/\|/g, "\\|")} |`);
  if (rows.length > top) console.log(`| … | | ${rows.length - top} more rows |`);
  console.log(`| **${fmt(total)}** | | **total** (of which ${fmt(outside)} B native: synthetic/native nodes, not in heapUsed; code is compiled once and shrinks per ${unit} as the count grows) |`);

  // New objects (ids the first snapshot did not have) by what holds them.
  const ret = firstRetainers(after);
  const nodes = after.raw.nodes;
  const owners = new Map();
  let newBytes = 0;
  for (let i = 0; i < nodes.length; i += after.N) {
    if (beforeIds.has(nodes[i + after.id])) continue;
    const size = nodes[i + after.size];
    newBytes += size;
    const key = `${nodeKey(after, i)} ← ${ownerOf(after, ret, i / after.N)}`;
    const entry = owners.get(key) ?? [0, 0];
    entry[0]++;
    entry[1] += size;
    owners.set(key, entry);
  }
  const ownerRows = [...owners].map(([key, [count, size]]) => [key, size / opened, count / opened]).filter((row) => row[1] > 1);
  ownerRows.sort((x, y) => y[1] - x[1]);
  console.log(`\n### New objects by owner (first strong retainer up to a named object; rows > 1 B/${unit})\n`);
  console.log(`| B/${unit} | objects/${unit} | node ← owner.path |`);
  console.log("|---:|---:|---|");
  for (const [key, bytes, count] of ownerRows.slice(0, top)) console.log(`| ${fmt(bytes)} | ${count.toFixed(2)} | ${key.replace(/\|/g, "\\|")} |`);
  if (ownerRows.length > top) console.log(`| … | | ${ownerRows.length - top} more rows |`);
  console.log(`| **${fmt(newBytes / opened)}** | | **all new objects** |`);
}
