/**
 * What the `require` entry points (`require.cts`, `client/require.cts`) share. retopy is an
 * ES module; Node loads one with `require()` from 20.19 and 22.12 on (require(esm)). Older
 * Node throws ERR_REQUIRE_ESM with a message about the caller's file; this one says what to do.
 */
function requireEsm(load: () => unknown, specifier: string): unknown {
  try {
    return load();
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== "ERR_REQUIRE_ESM") throw error;
    throw new Error(
      `${specifier} is an ES module; require("${specifier}") needs Node.js ^20.19.0 or >=22.12.0, where require() loads ES modules (this is ${process.version}). ` +
        `Upgrade Node.js, or load it with: const { ... } = await import("${specifier}")`,
      { cause: error },
    );
  }
}

export = requireEsm;
