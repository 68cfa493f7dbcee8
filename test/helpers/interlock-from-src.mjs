// `node --import tsx --import ./test/helpers/interlock-from-src.mjs file.ts`: makes
// `import "interlock"` load src/index.ts, so a test runs an example against the current
// source rather than whatever dist/ holds.
import { register } from "node:module";

register(new URL("./interlock-from-src-hooks.mjs", import.meta.url));
