import { chmodSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { afterAll } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
let dir: string | undefined;
const built = new Map<string, string>();

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  built.clear();
});

/**
 * `test/fixtures/<name>.ts` bundled into one world-readable file, for a child that drops
 * privileges: an unprivileged user cannot read a checkout under a 0700 directory (root's
 * home, the usual container case), so it gets its own copy of everything it runs. The
 * native fs-ext is copied beside it and stays external; everything else is inlined.
 * Run it with plain `node` (no tsx).
 */
export function readableFixture(name: string): string {
  const done = built.get(name);
  if (done !== undefined) return done;
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), "interlock-fixtures-"));
    chmodSync(dir, 0o755);
    cpSync(join(root, "node_modules/fs-ext"), join(dir, "node_modules/fs-ext"), {
      recursive: true,
      dereference: true,
    });
  }
  const outfile = join(dir, `${name}.mjs`);
  buildSync({
    entryPoints: [join(root, "test/fixtures", `${name}.ts`)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["fs-ext"],
    logLevel: "error",
    // CommonJS dependencies inlined into ESM still call require() for Node built-ins.
    banner: {
      js: 'import { createRequire as __interlockRequire } from "node:module"; const require = __interlockRequire(import.meta.url);',
    },
  });
  chmodSync(outfile, 0o644);
  built.set(name, outfile);
  return outfile;
}
