import { readFileSync } from "node:fs";

/**
 * The `// Output:` block at the end of an example file, without its comment prefixes,
 * ending in a newline: what the example must print, so the docs cannot drift.
 */
export function documentedOutput(file: string): string {
  const lines = readFileSync(file, "utf8").split(/\r?\n/);
  const start = lines.lastIndexOf("// Output:");
  if (start === -1) throw new Error(`${file} has no "// Output:" block`);
  const block = lines
    .slice(start + 1)
    .filter((line, i, all) => i < all.length - 1 || line !== "") // the file's final newline
    .map((line) => {
      if (!line.startsWith("//"))
        throw new Error(`Not a comment line in the Output block: ${line}`);
      return line.replace(/^\/\/ ?/, "");
    });
  return `${block.join("\n")}\n`;
}
