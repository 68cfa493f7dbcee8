import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentedOutput } from "../helpers/examples.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const example = path.join(root, "examples", "config-concurrent-edit.ts");

describe("examples/config-concurrent-edit.ts", () => {
  let tmp: string;

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), "interlock-example-test-"));
  });

  afterAll(() => {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it("prints exactly its documented Output block and removes its temp dir", async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", example],
      { cwd: root, env: { ...process.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp } },
    );
    expect(stderr).toBe("");
    expect(stdout).toBe(documentedOutput(example));
    expect(readdirSync(tmp).filter((n) => n.startsWith("interlock-config-demo-"))).toEqual([]);
  }, 60_000);

  it("documents lost edits without the lock and none with it", () => {
    const output = documentedOutput(example);
    expect(output).toMatch(/without a lock\):\n {2}edits kept: 1 of 6/);
    expect(output).toMatch(/atomic write\):\n {2}edits kept: 6 of 6\n {2}mode: 0640/);
    expect(output).toMatch(/ESTATECORRUPT/);
  });
});
