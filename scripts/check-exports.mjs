// Loads the built package both ways a user would (ESM import, CJS require) through its
// own `exports` map and checks that every public runtime name is there in both.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const expected = JSON.parse(readFileSync(new URL("./public-names.json", import.meta.url), "utf8"));
const require = createRequire(import.meta.url);
const esm = await import("interlock");
const cjs = require("interlock");
let missing = 0;
for (const name of expected) {
  for (const [kind, mod] of [
    ["import", esm],
    ["require", cjs],
  ]) {
    if (typeof mod[name] === "undefined") {
      console.error(`missing from ${kind}("interlock"): ${name}`);
      missing++;
    }
  }
}
if (esm.Mutex === cjs.Mutex)
  console.error("note: ESM and CJS resolved to the same module instance");
console.log(
  `${expected.length} public names checked through import and require: ${missing} missing`,
);
process.exit(missing === 0 ? 0 : 1);
