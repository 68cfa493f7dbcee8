// `npm run bench [-- name...]`: runs every suite (or those named) in one process, one
// after another, so interlock and its peers are measured on the same machine state, then
// writes every row to bench/results/latest.json and the ratios to bench/results/ratios.svg
// (a run of some suites writes those suites only).
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { collector, writeResults } from "./results.js";

const dir = fileURLToPath(new URL(".", import.meta.url));
const wanted = process.argv.slice(2);
const suites = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();

console.log(`# interlock bench — node ${process.version}, ${new Date().toISOString()}`);
for (const file of suites) {
  console.log(`\n## ${file}`);
  collector.suite = file.replace(/\.bench\.ts$/, "");
  const suite = (await import(new URL(file, import.meta.url).href)) as {
    default: () => Promise<void>;
  };
  await suite.default();
}

const written = await writeResults(
  fileURLToPath(new URL("results/", import.meta.url)),
  collector.rows,
);
console.log(`\nwrote ${written.join(" and ")}`);
