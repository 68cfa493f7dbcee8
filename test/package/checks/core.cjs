// The core checks through `require("interlock")` (the CommonJS build).
const lib = require("interlock");

import("./lib/core-suite.mjs").then(({ core }) => core(lib, "require", process.argv[2]));
