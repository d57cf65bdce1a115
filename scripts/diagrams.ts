/**
 * `npm run diagrams`: rewrites the statecharts in docs/statecharts.md (each between
 * `<!-- machines:NAME:start -->` and `<!-- machines:NAME:end -->`) and docs/NAME.svg, from
 * the machine objects, through the same code as `retopy machines`. test/statecharts.test.ts
 * runs `generateDocs` too and fails when what is on disk differs, so they never go stale.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MACHINE_NAMES, type MachineName, renderMachine } from "../src/statecharts/index.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The guide that shows every machine as Mermaid (GitHub draws it); README links its SVGs. */
export const DIAGRAM_DOC = join(ROOT, "docs", "statecharts.md");

export function startMarker(name: MachineName): string {
  return `<!-- machines:${name}:start -->`;
}

export function endMarker(name: MachineName): string {
  return `<!-- machines:${name}:end -->`;
}

/** What goes between a machine's markers: its Mermaid text in a fenced block. */
export function mermaidBlock(mermaid: string): string {
  return `\`\`\`mermaid\n${mermaid}\`\`\``;
}

/** `text` with the part between `name`'s markers replaced by `body`; both markers must be there, once. */
export function replaceBetweenMarkers(text: string, name: MachineName, body: string): string {
  const start = text.indexOf(startMarker(name));
  const end = text.indexOf(endMarker(name));
  if (start < 0 || end < start || text.indexOf(startMarker(name), start + 1) >= 0) {
    throw new Error(`docs/statecharts.md needs exactly one ${startMarker(name)} ... ${endMarker(name)} pair`);
  }
  return `${text.slice(0, start + startMarker(name).length)}\n${body}\n${text.slice(end)}`;
}

/** The guide with fresh diagrams, and the SVG files by path relative to the repository root. */
export async function generateDocs(guide: string): Promise<{ guide: string; files: Map<string, string> }> {
  const files = new Map<string, string>();
  for (const name of MACHINE_NAMES) {
    guide = replaceBetweenMarkers(guide, name, mermaidBlock(await renderMachine(name, "mermaid")));
    files.set(`docs/${name}.svg`, await renderMachine(name, "svg"));
  }
  return { guide, files };
}

async function main(): Promise<void> {
  const { guide, files } = await generateDocs(readFileSync(DIAGRAM_DOC, "utf8"));
  writeFileSync(DIAGRAM_DOC, guide);
  for (const [path, content] of files) {
    mkdirSync(dirname(join(ROOT, path)), { recursive: true });
    writeFileSync(join(ROOT, path), content);
  }
  process.stdout.write(`docs/statecharts.md and ${[...files.keys()].join(", ")} regenerated\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
