/** `require("retopy")`: the ES module itself (the same instance `import` gets), or a clear error on an older Node. */
import requireEsm = require("./require-esm.cjs");

export = requireEsm(() => require("./index.js") as unknown, "retopy") as typeof import("./index.js");
