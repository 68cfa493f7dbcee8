// Loads the built package both ways a user would (ESM import, CJS require) through its
// own `exports` map and checks that every public runtime name is there in both, for the
// root entry and for `interlock/postgres`; that both entries share one copy of the
// error classes; and that the root entry never loads the PostgreSQL driver.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const names = (file) => JSON.parse(readFileSync(new URL(file, import.meta.url), "utf8"));
const entries = [
  ["interlock", names("./public-names.json")],
  ["interlock/postgres", names("./public-names.postgres.json")],
];
let missing = 0;
let checked = 0;
const loaded = {};
for (const [specifier, expected] of entries) {
  const esm = await import(specifier);
  const cjs = require(specifier);
  loaded[specifier] = { esm, cjs };
  for (const name of expected) {
    checked++;
    for (const [kind, mod] of [
      ["import", esm],
      ["require", cjs],
    ]) {
      if (typeof mod[name] === "undefined") {
        console.error(`missing from ${kind}("${specifier}"): ${name}`);
        missing++;
      }
    }
  }
}
const interlock = loaded.interlock;
const pg = loaded["interlock/postgres"];
let problems = 0;
for (const kind of ["esm", "cjs"]) {
  // One copy of InterlockError for both entries: `err instanceof LockTimeoutError` must
  // hold for an error thrown by interlock/postgres.
  if (!(pg[kind].LockLostError.prototype instanceof interlock[kind].InterlockError)) {
    console.error(`${kind}: interlock/postgres has its own copy of InterlockError`);
    problems++;
  }
}
const probe = spawnSync(
  process.execPath,
  [
    "-e",
    "require('interlock'); process.stdout.write(String(Object.keys(require.cache).some((k) => /[\\\\/]node_modules[\\\\/]pg[\\\\/]/.test(k))))",
  ],
  { encoding: "utf8" },
);
if (probe.stdout !== "false") {
  console.error(`require("interlock") loaded the pg driver (or failed: ${probe.stderr.trim()})`);
  problems++;
}
if (interlock.esm.Mutex === interlock.cjs.Mutex)
  console.error("note: ESM and CJS resolved to the same module instance");
console.log(
  `${checked} public names checked through import and require: ${missing} missing; ${problems} entry problems`,
);
process.exit(missing === 0 && problems === 0 ? 0 : 1);
