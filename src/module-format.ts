import { readFileSync } from "node:fs";
import { dirname, extname, join } from "node:path";

/** The `type` of the package.json nearest to `dir` ("commonjs" when there is none, as Node reads it). */
function packageType(dir: string): string {
  for (;;) {
    try {
      const type = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { type?: unknown }).type;
      return type === "module" ? "module" : "commonjs";
    } catch {
      // no (readable) package.json here: keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) return "commonjs";
    dir = parent;
  }
}

/**
 * True when Node (and tsx) treat `file` as CommonJS: `.cts`/`.cjs`, or `.ts`/`.js` in a
 * package that is not `"type": "module"` (what `npm init -y` writes). The CLI loads such a
 * TypeScript file through tsx's CommonJS hooks: through its ESM hooks, the file's own
 * `require("retopy")` (an ES module) fails on Node 20 ("request for ... is not in cache").
 */
export function isCommonJsFile(file: string): boolean {
  const extension = extname(file);
  if (extension === ".cts" || extension === ".cjs") return true;
  if (extension === ".mts" || extension === ".mjs") return false;
  return packageType(dirname(file)) === "commonjs";
}
