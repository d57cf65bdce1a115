// Fails when the sources import each other in a circle, type-only imports included: a type
// that two files both need belongs in a third. Run by `npm run check:cycles` (and CI).
//
//   node scripts/check-cycles.mjs [dir...]     # default: src machines
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ["src", "machines"];

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) yield* sources(full);
    else if (/\.(m|c)?ts$/.test(name) && !name.endsWith(".d.ts")) yield path.normalize(full);
  }
}

const files = new Set(roots.flatMap((root) => [...sources(root)]));
/** file → the files of the same tree it imports (relative specifiers; `.js` names the `.ts`). */
const edges = new Map();
for (const file of files) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  const targets = [];
  for (const { fileName } of importedFiles) {
    if (!fileName.startsWith(".")) continue;
    const resolved = path.normalize(path.join(path.dirname(file), fileName)).replace(/\.(m|c)?js$/, ".$1ts");
    if (files.has(resolved)) targets.push(resolved);
  }
  edges.set(file, targets);
}

// Depth-first search; a grey node met again closes a cycle.
const state = new Map(); // file → "grey" | "black"
const cycles = [];
function visit(file, trail) {
  state.set(file, "grey");
  trail.push(file);
  for (const next of edges.get(file)) {
    if (state.get(next) === "grey") cycles.push([...trail.slice(trail.indexOf(next)), next]);
    else if (!state.has(next)) visit(next, trail);
  }
  trail.pop();
  state.set(file, "black");
}
for (const file of [...files].sort()) if (!state.has(file)) visit(file, []);

if (cycles.length === 0) {
  console.log(`no import cycles among ${files.size} files in ${roots.join(", ")}`);
} else {
  for (const cycle of cycles) console.error(`import cycle: ${cycle.join(" -> ")}`);
  console.error(`${cycles.length} import cycle(s)`);
  process.exit(1);
}
