// examples/kv.ts with the output limit the pinning bench sets (PINNING_MAX_OUTPUT bytes),
// served through the CLI, which applies a module's named `options` export.
export { default } from "../examples/kv.js";

export const options = { maxOutputBuffer: Number(process.env.PINNING_MAX_OUTPUT ?? 64 * 1024 * 1024) };
