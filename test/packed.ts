/**
 * The package as a consumer gets it, for the tests that install or unpack it in fresh
 * projects: `npm pack` of the dist/ that `npm test` has just built. `--ignore-scripts`
 * because `prepack` would rebuild dist/, emptying it under any test running beside.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Packs retopy into `destination`; returns the tarball's path. */
export function packRetopy(destination: string): string {
  assert.ok(existsSync(join(ROOT, "dist", "src", "index.js")), "dist/ is missing: run `npm run build` first");
  const packed = spawnSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", destination], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(packed.status, 0, `npm pack failed: ${packed.stderr}`);
  return join(destination, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);
}

/** Unpacks the tarball as `node_modules/retopy` of `project`, as npm would lay it out. */
export function unpackRetopy(tarball: string, project: string): string {
  const target = join(project, "node_modules", "retopy");
  mkdirSync(target, { recursive: true });
  const unpacked = spawnSync("tar", ["-xzf", tarball, "-C", target, "--strip-components=1"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(unpacked.status, 0, `tar failed: ${unpacked.stderr}`);
  return target;
}
