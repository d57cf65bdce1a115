/**
 * Reads README.md and docs/*.md the way test/docs.test.ts checks them: the code samples a
 * reader would copy, and the relative links a reader would follow.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The Markdown a user reads: the front page and every guide. */
export function documentFiles(): string[] {
  const docs = readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => join(ROOT, "docs", name));
  return [join(ROOT, "README.md"), ...docs];
}

/** How a sample is checked: compiled and run (the default), or compiled only, with the reason given in the document. */
export type SampleMode = "run" | "compile-only";

export interface Sample {
  /** `docs/commands.md:42`, the line of the opening fence. */
  readonly where: string;
  /** File extension the sample is saved with: its fence's language decides. */
  readonly extension: ".ts" | ".mts" | ".cts" | ".mjs" | ".cjs";
  readonly code: string;
  readonly mode: SampleMode;
}

const EXTENSIONS: Record<string, Sample["extension"]> = {
  ts: ".ts",
  typescript: ".ts",
  mts: ".mts",
  cts: ".cts",
  js: ".mjs",
  javascript: ".mjs",
  mjs: ".mjs",
  cjs: ".cjs",
};

/**
 * Every fenced block whose language is TypeScript or JavaScript. A document marks a block
 * that cannot run on a test machine (it waits for a terminal, say) with the comment
 * `<!-- sample: compile-only (why) -->` on the line before its fence; it is still compiled.
 */
export function samplesOf(file: string): Sample[] {
  const lines = readFileSync(file, "utf8").split("\n");
  const samples: Sample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i]!);
    if (!open) {
      if (lines[i]!.startsWith("```")) i = closingFence(lines, i); // a fence of another kind, or none
      continue;
    }
    const end = closingFence(lines, i);
    const extension = EXTENSIONS[open[1]!.toLowerCase()];
    if (extension) {
      const marker = /^<!-- sample: (compile-only) \(.+\) -->$/.exec(lines[i - 1] ?? "");
      samples.push({
        where: `${relative(ROOT, file)}:${i + 1}`,
        extension,
        code: lines.slice(i + 1, end).join("\n") + "\n",
        mode: marker ? "compile-only" : "run",
      });
    }
    i = end;
  }
  return samples;
}

function closingFence(lines: string[], open: number): number {
  for (let j = open + 1; j < lines.length; j++) if (lines[j]!.startsWith("```")) return j;
  throw new Error(`unclosed code fence at line ${open + 1}`);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors a Markdown file has (headings outside code fences), with GitHub's `-1` suffixes for repeats. */
export function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.+)$/.exec(line);
    if (!heading) continue;
    const base = headingAnchor(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

export interface Link {
  readonly where: string;
  readonly target: string;
}

/** Relative links (`[text](path#anchor)`, `![alt](path)`) outside code, with where they are. */
export function relativeLinksOf(file: string): Link[] {
  const links: Link[] = [];
  let fenced = false;
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (line.startsWith("```")) fenced = !fenced;
      if (fenced) return;
      const prose = line.replace(/`[^`]*`/g, ""); // inline code is not a link
      for (const match of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        links.push({ where: `${relative(ROOT, file)}:${i + 1}`, target });
      }
    });
  return links;
}
