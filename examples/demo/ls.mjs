// `ls` from another terminal, while the demo's sessions provision:
//
//   node ls.mjs <naive|interlock> <registry file>
//
// Prints one line per session (`session-3  slot 2  pending  pid 4242`), then how long the
// listing took. The naive way reads the file as it is; interlock's `list()` reads it
// without the lock too, and leaves out pending entries whose owner has died.
import { readFile } from "node:fs/promises";
import { FileRegistry } from "interlock";

const [way, file] = process.argv.slice(2);

async function entries() {
  if (way === "interlock") return new FileRegistry(file).list();
  try {
    return JSON.parse(await readFile(file, "utf8")).entries;
  } catch (error) {
    if (error.code === "ENOENT") return [];
    throw error;
  }
}

const started = performance.now();
const rows = await entries();
const ms = performance.now() - started;
for (const e of rows) console.log(`${e.id}  slot ${e.slot}  ${e.status}  pid ${e.owner.pid}`);
console.log(`answered in ${ms.toFixed(1)} ms`);
