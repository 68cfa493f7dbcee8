import { fork } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useTempDir } from "../helpers/temp-dir.js";
import { fixture } from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const PROCESSES = stress ? 8 : 4;
const INCREMENTS = stress ? 400 : 100;
const tempDir = useTempDir();

/** Runs PROCESSES children doing INCREMENTS read-modify-writes each; returns the counter. */
async function run(variant: "interlock" | "none"): Promise<number> {
  const dir = tempDir();
  const counter = join(dir, "counter");
  writeFileSync(counter, "0");
  const children = Array.from({ length: PROCESSES }, () =>
    fork(
      fixture("file-lock-increment.ts"),
      [variant, join(dir, "counter.lock"), counter, String(INCREMENTS)],
      { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] },
    ),
  );
  try {
    // Start together, so the runs overlap instead of following each other.
    await Promise.all(children.map((c) => once(c, "message")));
    const done = children.map((c) => once(c, "message"));
    for (const c of children) c.send("go");
    await Promise.all(done);
    return Number(readFileSync(counter, "utf8"));
  } finally {
    for (const c of children) c.kill("SIGKILL");
  }
}

describe(`${PROCESSES} processes × ${INCREMENTS} read-modify-write increments of one counter`, () => {
  it("under the file lock: exactly N × M, no lost update", { timeout: 120_000 }, async () => {
    expect(await run("interlock")).toBe(PROCESSES * INCREMENTS);
  });

  it("(control) without the lock: updates are lost, so the test above can fail", {
    timeout: 120_000,
  }, async () => {
    expect(await run("none")).toBeLessThan(PROCESSES * INCREMENTS);
  });
});
