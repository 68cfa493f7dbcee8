import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentedOutput } from "../helpers/examples.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const example = path.join(root, "examples", "sessions-up-down.ts");
// The example imports "interlock"; this hook points that at src/ (no build needed).
const fromSrc = path.join(root, "test", "helpers", "interlock-from-src.mjs");

describe("examples/sessions-up-down.ts", () => {
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
      ["--import", "tsx", "--import", fromSrc, example],
      { cwd: root, env: { ...process.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp } },
    );
    expect(stderr).toBe("");
    expect(stdout).toBe(documentedOutput(example));
    // (tsx keeps its cache in TMPDIR too.)
    expect(readdirSync(tmp).filter((n) => n.startsWith("interlock-sessions-demo-"))).toEqual([]);
  }, 120_000);

  it("documents ls during provisioning, the refusal, and the reclaimed name and slot", () => {
    const output = documentedOutput(example);
    expect(output).toMatch(/never waits\):\n( {2}session-\d {2}slot \d {2}pending\n){4}/);
    expect(output).toMatch(/EIDTAKEN, pending/);
    expect(output).toMatch(/name and slot: session-3\n/);
    expect(output).toMatch(/session-3 {2}slot 2 {2}active {2}port 7002/);
  });
});
