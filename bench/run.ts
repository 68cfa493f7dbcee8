// `npm run bench [-- name...]`: runs every suite (or those named) in one process, one
// after another, so interlock and its peers are measured on the same machine state.
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const wanted = process.argv.slice(2);
const suites = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();

console.log(`# interlock bench — node ${process.version}, ${new Date().toISOString()}`);
for (const file of suites) {
  console.log(`\n## ${file}`);
  const suite = (await import(new URL(file, import.meta.url).href)) as {
    default: () => Promise<void>;
  };
  await suite.default();
}
