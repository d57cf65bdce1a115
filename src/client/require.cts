/** `require("retopy/client")`: the ES module itself, or a clear error on an older Node (see ../require-esm.cts). */
import requireEsm = require("../require-esm.cjs");

export = requireEsm(() => require("./index.js") as unknown, "retopy/client") as typeof import("./index.js");
