// advanceRef under random concurrent schedules, against a real scratch repository, with
// writers that bypass its lock (plain compare-and-swap with `git update-ref <ref> <new>
// <old>`). fast-check's scheduler decides which parked writer moves next: a writer parks
// at its start, inside each advanceRef build (between the read of the tip and the
// update), and between a bypassing writer's read and its write.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { advanceRef, type GitError, RefConflictError } from "../../src/git/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import {
  commit,
  commitAsync,
  git,
  gitAsync,
  initRepo,
  linearChain,
  type ObjectFormat,
} from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const tempDir = useTempDir();
const ref = "refs/heads/shadow";

type Writer = { kind: "advance"; lock: boolean } | { kind: "bypass" };

const writerArb: fc.Arbitrary<Writer> = fc.oneof(
  fc.record({ kind: fc.constant("advance" as const), lock: fc.boolean() }),
  fc.record({ kind: fc.constant("bypass" as const) }),
);

interface Record {
  writer: Writer;
  started: boolean;
  done: boolean;
  built: string[];
  lost: { oid: string; error: GitError }[];
  landed?: string;
  error?: unknown;
}

/** Polls (a safety net, not a synchronization) until `ready()`, or 10 s have passed. */
async function until(ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
}

async function runSchedule(s: fc.Scheduler, format: ObjectFormat, writers: Writer[]) {
  const cwd = initRepo(tempDir(), format);
  const base = commit(cwd, undefined, "base");
  git(cwd, "update-ref", ref, base);
  // Every failed attempt of one writer needs another write between its read and its
  // update, so this budget is only exceeded when git's own ref lock was busy repeatedly.
  const attempts = writers.length + 1;
  const records: Record[] = writers.map((writer) => ({
    writer,
    started: false,
    done: false,
    built: [],
    lost: [],
  }));

  const tasks = records.map(async (r, i) => {
    await s.schedule(Promise.resolve(), `w${i} start`);
    r.started = true;
    try {
      if (r.writer.kind === "bypass") {
        const tip = await gitAsync(cwd, "rev-parse", ref);
        await s.schedule(Promise.resolve(), `w${i} (bypass) read ${tip.slice(0, 7)}`);
        const mine = await commitAsync(cwd, tip, `w${i}`);
        try {
          await gitAsync(cwd, "update-ref", ref, mine, tip);
          r.landed = mine;
        } catch {
          // Lost its compare-and-swap: a raw writer gives up, leaving nothing behind.
        }
      } else {
        const result = await advanceRef(
          {
            cwd,
            ref,
            attempts,
            lock: r.writer.lock,
            onConflict: (oid, error) => void r.lost.push({ oid, error }),
          },
          async (tip, { attempt }) => {
            const mine = await commitAsync(cwd, tip, `w${i} a${attempt}`);
            r.built.push(mine);
            await s.schedule(Promise.resolve(), `w${i} built a${attempt} on ${tip?.slice(0, 7)}`);
            return mine;
          },
        );
        r.landed = result.oid;
        expect(result.attempts).toBe(r.built.length);
      }
    } catch (err) {
      r.error = err;
    } finally {
      r.done = true;
    }
  });

  // Release a parked writer only once every writer that can park has parked, so the
  // scheduler (not the speed of git) picks the interleaving. Writers queued behind
  // advanceRef's lock cannot park; one lock holder at a time can.
  const parkable = () => {
    const alive = records.filter((r) => !r.done);
    const notStarted = alive.filter((r) => !r.started).length;
    const free = alive.filter(
      (r) => r.started && (r.writer.kind === "bypass" || !r.writer.lock),
    ).length;
    const locked = alive.some((r) => r.started && r.writer.kind === "advance" && r.writer.lock);
    return notStarted + free + (locked ? 1 : 0);
  };
  const all = Promise.all(tasks);
  let finished = false;
  void all.then(() => (finished = true));
  while (!finished) {
    await until(() => finished || (s.count() > 0 && s.count() >= parkable()));
    if (!finished && s.count() > 0) await s.waitOne();
  }
  await all;

  // The history is one linear chain made of exactly the writes that reported success.
  const chain = linearChain(cwd, ref).map((c) => c.oid);
  const landed = records.flatMap((r) => (r.landed === undefined ? [] : [r.landed]));
  expect(new Set(chain)).toEqual(new Set([base, ...landed]));
  expect(chain).toHaveLength(landed.length + 1);
  for (const r of records) {
    if (r.writer.kind !== "advance") continue;
    // Every object built for a losing attempt was handed to onConflict, and only those.
    expect(r.lost.map((l) => l.oid)).toEqual(r.built.filter((oid) => oid !== r.landed));
    if (r.error !== undefined) {
      // The only failure allowed is an honest one: out of attempts, nothing written.
      expect(r.error).toBeInstanceOf(RefConflictError);
      expect((r.error as RefConflictError).attempts).toBe(attempts);
    } else {
      expect(r.landed).toBe(r.built.at(-1));
    }
  }
}

describe("advanceRef under random schedules with writers that bypass its lock", () => {
  it("every write that reported success is on one linear chain; nothing else is", {
    timeout: stress ? 900_000 : 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.constantFrom<ObjectFormat>("sha1", "sha256"),
        fc.array(writerArb, { minLength: 2, maxLength: stress ? 6 : 4 }),
        runSchedule,
      ),
      { numRuns: stress ? 60 : 8, endOnFailure: !stress },
    );
  });
});
