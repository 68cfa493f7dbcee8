import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentedOutput } from "../helpers/examples.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const example = path.join(root, "examples", "keyed-file-rmw.mjs");

describe("examples/keyed-file-rmw.mjs", () => {
  let tmp: string;

  beforeAll(() => {
    // The example imports ../dist/index.js, as `npm run demo` builds it first.
    if (!existsSync(path.join(root, "dist", "index.js"))) {
      execFileSync("npx", ["tsup"], { cwd: root, stdio: "pipe" });
    }
    tmp = mkdtempSync(path.join(tmpdir(), "interlock-example-test-"));
  });

  afterAll(() => {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it("prints exactly its documented Output block and removes its temp dir", async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [example], {
      cwd: root,
      env: { ...process.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp },
    });
    expect(stderr).toBe("");
    expect(stdout).toBe(documentedOutput(example));
    expect(readdirSync(tmp)).toEqual([]);
  });

  it("shows lost updates without the lock and none with it", () => {
    const output = documentedOutput(example);
    const [unlocked, bySpelling, resolved] = output.split("\n\n").slice(1);
    expect(unlocked).toMatch(/updates lost/);
    expect(bySpelling).toMatch(/updates lost/);
    expect(resolved).not.toMatch(/updates lost/);
    expect(resolved).toMatch(/keys left in the KeyedMutex afterwards: 0/);
  });
});
