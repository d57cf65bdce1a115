/**
 * The limits table (src/limits.ts) is the one home of every limit: the server's options,
 * defaults and checks come from it, and the deployment guide's options table must say what it says.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { Application, RetopyError, RetopyServer } from "../src/index.js";
import { checkLimits, LIMITS, type LimitName, MAX_TIMER_MS } from "../src/limits.js";

const GUIDE = readFileSync(new URL("../docs/deployment.md", import.meta.url), "utf8");
const names = Object.keys(LIMITS) as LimitName[];

describe("limits", () => {
  it("docs/deployment.md's options table lists every limit with the table's default", () => {
    for (const name of names) {
      const row = new RegExp(`^\\| \`${name}\` \\| \`${LIMITS[name].default}\``, "m");
      assert.match(GUIDE, row, `docs/deployment.md has no row for ${name} with default ${LIMITS[name].default}`);
    }
  });

  it("left out or undefined, a limit takes its default", () => {
    const limits = checkLimits({ maxArgs: undefined });
    for (const name of names) assert.equal(limits[name], LIMITS[name].default);
  });

  it("refuses negative, fractional, non-numeric and non-finite values, naming the limit", () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity, "100" as unknown as number]) {
      for (const name of names) {
        assert.throws(
          () => checkLimits({ [name]: bad }),
          (e: unknown) => e instanceof RetopyError && e.code === "RETOPY_INVALID_OPTION" && e.message.includes(name),
        );
      }
    }
  });

  it("refuses a timer longer than setTimeout can wait, which would fire at once", () => {
    const app = new Application();
    for (const name of names.filter((n) => LIMITS[n].unit === "ms")) {
      assert.doesNotThrow(() => checkLimits({ [name]: MAX_TIMER_MS }));
      assert.throws(() => new RetopyServer(app, { logger: false, [name]: MAX_TIMER_MS + 1 }), /must be a whole number of milliseconds/);
    }
  });
});
