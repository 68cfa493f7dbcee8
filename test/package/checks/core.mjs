// The core checks through `import "interlock"` (the ESM build).
import * as lib from "interlock";
import { core } from "./lib/core-suite.mjs";

await core(lib, "import", process.argv[2]);
