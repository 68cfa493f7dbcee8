import { defineConfig } from "tsup";

export default defineConfig({
  // `interlock/postgres` is its own entry so that local users never load a driver.
  entry: { index: "src/index.ts", "postgres/index": "src/postgres/index.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  platform: "node",
  // Both entries share one copy of what they have in common (chunks), so an error thrown
  // by `interlock/postgres` is `instanceof` the class exported by `interlock`.
  splitting: true,
  treeshake: true,
  // `import.meta.url` in the CommonJS build (src/file-lock/load-fs-ext.ts needs a real require).
  shims: true,
});
