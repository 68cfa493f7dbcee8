import { fork } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { useTempDir } from "../helpers/temp-dir.js";
import { fixture } from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const tempDir = useTempDir();

const step = fc.record(
  {
    mode: fc.constantFrom("exclusive", "shared"),
    holdMs: fc.integer({ min: 0, max: 3 }),
    crash: fc.integer({ min: 0, max: 11 }).map((n) => n === 0),
    timeoutMs: fc.integer({ min: 0, max: 5 }),
  },
  { requiredKeys: ["mode", "holdMs", "crash"] },
);
// Per process: 1–2 lanes acquiring concurrently inside it, each a few steps.
const processSchedule = fc.array(fc.array(step, { minLength: 1, maxLength: 4 }), {
  minLength: 1,
  maxLength: 2,
});

type Schedule = typeof processSchedule extends fc.Arbitrary<infer T> ? T : never;

/** Replays the log and fails on any moment with two incompatible holders. */
function checkLog(lines: string[]): void {
  const holders = new Map<string, string>();
  for (const [i, line] of lines.entries()) {
    const [what, who, mode] = line.split(" ");
    const where = `line ${i + 1} "${line}" with holders ${JSON.stringify([...holders])}`;
    if (what === "enter") {
      const modes = [...holders.values()];
      if (mode === "exclusive") expect(modes, where).toEqual([]);
      else expect(modes, where).not.toContain("exclusive");
      holders.set(who!, mode!);
    } else if (what === "exit") {
      expect(holders.has(who!), where).toBe(true);
      holders.delete(who!);
    } else if (what === "crash") {
      // Everything the crashed process held died with it.
      for (const key of [...holders.keys()]) if (key.startsWith(`${who}.`)) holders.delete(key);
    }
  }
}

async function runSchedules(schedules: Schedule[]): Promise<void> {
  const dir = tempDir();
  const lockPath = join(dir, "prop.lock");
  const logPath = join(dir, "log");
  writeFileSync(logPath, "");
  const children = schedules.map((s, i) =>
    fork(fixture("file-lock-schedule.ts"), [String(i), lockPath, logPath, JSON.stringify(s)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  try {
    await Promise.all(children.map((c) => once(c, "message")));
    const exits = children.map((c) => once(c, "exit"));
    for (const c of children) c.send("go");
    const results = (await Promise.all(exits)) as [number | null, NodeJS.Signals | null][];
    const lines = readFileSync(logPath, "utf8").split("\n").filter(Boolean);
    checkLog(lines);
    // Each process either finished cleanly or was killed by its own crash step.
    results.forEach(([code, signal], i) => {
      const crashed = lines.includes(`crash ${i}`);
      expect(crashed ? signal : code, `process ${i}`).toBe(crashed ? "SIGKILL" : 0);
    });
  } finally {
    for (const c of children) c.kill("SIGKILL");
  }
}

describe("file locks under random multi-process schedules", () => {
  it("never admits two incompatible holders; crashed holders free the lock", {
    timeout: stress ? 600_000 : 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(processSchedule, { minLength: 2, maxLength: 3 }), runSchedules),
      { numRuns: stress ? 40 : 4, endOnFailure: !stress },
    );
  });

  it("the log check catches overlapping holders (checked against made-up logs)", () => {
    expect(() => checkLog(["enter 0.0 exclusive", "enter 1.0 shared"])).toThrow();
    expect(() => checkLog(["enter 0.0 shared", "enter 1.0 exclusive"])).toThrow();
    expect(() =>
      checkLog(["enter 0.0 shared", "enter 1.0 shared", "exit 0.0", "exit 1.0"]),
    ).not.toThrow();
    expect(() => checkLog(["enter 0.0 exclusive", "crash 0", "enter 1.0 exclusive"])).not.toThrow();
    expect(() => checkLog(["enter 0.0 exclusive", "crash 1", "enter 1.0 exclusive"])).toThrow();
  });
});
