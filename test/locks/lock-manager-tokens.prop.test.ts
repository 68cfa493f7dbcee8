// Fencing tokens across processes: every grant's token is strictly greater than the
// token of every earlier grant of that name, whatever the interleaving of exclusive and
// shared requests from several processes, and after every process restarts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LockManager } from "../../src/index.js";
import { LocksClient } from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";

interface Grant {
  who: string;
  mode: string;
  token: number;
  ask: number;
  grant: number;
  release: number;
  after: number;
}

/** The log as one record per request, with the line number of each of its events. */
function grantsOf(log: string): Grant[] {
  const open = new Map<string, Partial<Grant>>();
  const done: Grant[] = [];
  log
    .trimEnd()
    .split("\n")
    .forEach((line, i) => {
      const parts = line.split(" ");
      const who = parts.at(-1)!;
      const g = open.get(who) ?? { who };
      switch (parts[0]) {
        case "ask":
          open.set(who, { who, mode: parts[1]!, ask: i });
          return;
        case "grant":
          g.token = Number(parts[1]);
          g.grant = i;
          return;
        case "release":
          g.release = i;
          return;
        case "after":
          g.after = i;
          done.push(g as Grant);
          open.delete(who);
      }
    });
  return done;
}

/** Checks the fencing rule on every pair of grants; returns the violations. */
function violations(grants: Grant[]): string[] {
  const bad: string[] = [];
  for (const a of grants) {
    if (!Number.isSafeInteger(a.token)) bad.push(`token ${a.token} of ${a.who} is not an integer`);
    for (const b of grants) {
      if (a === b) continue;
      // b asked after a had finished: b's grant is later than a's, whatever the modes.
      const later = a.after < b.ask;
      // At least one exclusive: the grants did not overlap, and the log lines written
      // under the lock are in grant order.
      const ordered = (a.mode === "exclusive" || b.mode === "exclusive") && a.grant < b.grant;
      if ((later || ordered) && !(a.token < b.token)) {
        bad.push(`${a.mode} ${a.token} (${a.who}) then ${b.mode} ${b.token} (${b.who})`);
      }
    }
  }
  return bad;
}

describe("fencing tokens across processes", () => {
  let dir: string;
  let children: LocksClient[];

  // One directory and one set of children for all runs (each run uses its own name).
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "interlock-test-"));
    children = await Promise.all([1, 2, 3].map(() => LocksClient.process(dir, { keep: true })));
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
    rmSync(dir, { recursive: true, force: true });
  });

  const step = fc.record({
    mode: fc.constantFrom("exclusive", "shared"),
    ticks: fc.integer({ min: 0, max: 3 }),
  });

  it("each grant's token exceeds every earlier grant's, over interleavings of modes and hold times", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(step, { minLength: 1, maxLength: stress ? 12 : 4 }), {
          minLength: 3,
          maxLength: 3,
        }),
        async (plans) => {
          const name = `fenced-${run++}`;
          const log = join(dir, `${name}.log`);
          writeFileSync(log, "");
          await Promise.all(
            children.map((c, i) => c.run({ op: "grants", name, log, plan: plans[i] })),
          );
          const grants = grantsOf(readFileSync(log, "utf8"));
          expect(grants).toHaveLength(plans.flat().length);
          expect(violations(grants)).toEqual([]);
        },
      ),
      { numRuns: stress ? 100 : 12 },
    );
  }, 120_000);

  it("tokens keep rising after every process that used the name has exited", async () => {
    const name = "restarts";
    const log = join(dir, `${name}.log`);
    writeFileSync(log, "");
    const plan = [
      { mode: "exclusive", ticks: 0 },
      { mode: "shared", ticks: 1 },
    ];
    await Promise.all(children.map((c) => c.run({ op: "grants", name, log, plan })));
    const before = Math.max(...grantsOf(readFileSync(log, "utf8")).map((g) => g.token));
    await Promise.all(children.map((c) => c.kill()));
    children = await Promise.all([1, 2].map(() => LocksClient.process(dir, { keep: true })));
    writeFileSync(log, "");
    await Promise.all(children.map((c) => c.run({ op: "grants", name, log, plan })));
    const after = grantsOf(readFileSync(log, "utf8"));
    expect(Math.min(...after.map((g) => g.token))).toBeGreaterThan(before);
    expect(violations(after)).toEqual([]);
    // And in this process, a new manager on the directory continues from there.
    const mine = await new LockManager({ dir }).request(name, (lock) => lock.token);
    expect(mine).toBeGreaterThan(Math.max(...after.map((g) => g.token)));
  }, 60_000);

  it("detects a violation (the checker itself can fail)", () => {
    const g = (who: string, mode: string, token: number, at: number): Grant => ({
      who,
      mode,
      token,
      ask: at,
      grant: at + 1,
      release: at + 2,
      after: at + 3,
    });
    expect(violations([g("a", "exclusive", 5, 0), g("b", "exclusive", 5, 4)])).toHaveLength(1);
    expect(violations([g("a", "shared", 7, 0), g("b", "shared", 6, 4)])).toHaveLength(1);
    expect(violations([g("a", "shared", 1, 0), g("b", "exclusive", 2, 4)])).toEqual([]);
  });
});
