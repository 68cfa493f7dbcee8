import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentedOutput } from "../helpers/examples.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const example = path.join(root, "examples", "agent-checkpoints.ts");

describe("examples/agent-checkpoints.ts", () => {
  let tmp: string;

  beforeAll(() => {
    // The example imports "interlock", the built package (as `npm run build` makes it).
    const built = path.join(root, "dist", "index.js");
    if (!existsSync(built) || !readFileSync(built, "utf8").includes("advanceRef")) {
      execFileSync("npx", ["tsup"], { cwd: root, stdio: "pipe" });
    }
    tmp = mkdtempSync(path.join(tmpdir(), "interlock-example-test-"));
  }, 120_000);

  afterAll(() => {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it("prints exactly its documented Output block and removes its temp dirs", async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", example],
      {
        cwd: root,
        env: { ...process.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp, GIT_CONFIG_GLOBAL: "/dev/null" },
      },
    );
    expect(stderr).toBe("");
    expect(stdout).toBe(documentedOutput(example));
    expect(readdirSync(tmp).filter((n) => n.startsWith("interlock-"))).toEqual([]);
  }, 120_000);

  it("documents lost checkpoints without advanceRef and none with it", () => {
    const [, naive, safe] = documentedOutput(example).split("\n\n");
    expect(naive).toMatch(/checkpoints on the branch: 3 of 12/);
    expect(safe).toMatch(/checkpoints on the branch: 12 of 12/);
    expect(safe).toMatch(/one linear history: yes/);
  });
});
