import { RetopyError } from "./errors.js";

/** True when `error` is Node's "cannot find package" for one of `packages`. */
function isMissing(error: unknown, packages: readonly string[]): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== "ERR_MODULE_NOT_FOUND" || typeof message !== "string") return false;
  return packages.some((name) => message.includes(`'${name}'`));
}

/**
 * Loads an optional feature's modules. Its packages are optional peer dependencies, which a
 * consumer's install leaves out: without them, the feature fails with the command that adds
 * them, not with Node's "Cannot find package" from deep inside retopy.
 */
export async function importOptional<T>(feature: string, packages: readonly string[], load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (!isMissing(error, packages)) throw error;
    throw new RetopyError(
      "RETOPY_MISSING_PEER",
      `${feature} needs ${packages.join(" and ")} (${packages.length === 1 ? "an optional peer dependency" : "optional peer dependencies"} of retopy): npm install ${packages.join(" ")}`,
    );
  }
}
