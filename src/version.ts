/** retopy's own version, as HELLO and INFO report it. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cachedVersion: string | undefined;

/**
 * retopy's own version, from the package.json above this file: `src/` when run from
 * source, `dist/src/` when built, `node_modules/retopy/dist/src/` when installed.
 */
export function retopyVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = "0.0.0";
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let depth = 0; depth < 5; depth++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
        if (pkg.name === "retopy" && typeof pkg.version === "string") {
          cachedVersion = pkg.version;
          break;
        }
      } catch {
        // no (readable) package.json here: keep walking up
      }
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  } catch {
    // not loaded from a file: keep the placeholder
  }
  return cachedVersion;
}
