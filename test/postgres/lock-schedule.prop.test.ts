// Random concurrent schedules against a real server: actors on several backends (each
// its own sessions) take two names in either mode, wait or only try, sometimes abort
// while queued, and hold across server round trips. At every entry the holders of a
// name must be compatible and an exclusive grant's token must be above every token of
// that name entered before; an aborted waiter never holds; nothing is left on the
// server afterwards.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AbortError } from "../../src/errors.js";
import type { RemoteLockHandle } from "../../src/postgres/index.js";
import { locksOf, useSharedBackends } from "./helpers.js";

const RUNS = process.env.INTERLOCK_STRESS === "1" ? 60 : 8;
const tick = () => new Promise<void>((r) => setImmediate(r));

const actor = fc.record({
  backend: fc.integer({ min: 0, max: 2 }),
  name: fc.constantFrom("a", "b"),
  mode: fc.constantFrom("exclusive" as const, "shared" as const),
  how: fc.constantFrom("wait", "wait", "try", "abort"),
  abortAfterTicks: fc.integer({ min: 0, max: 6 }),
  holdRoundTrips: fc.integer({ min: 0, max: 2 }),
});

describe("random lock schedules", () => {
  const shared = useSharedBackends(3);

  it(
    `keep holders compatible, tokens rising, aborted waiters empty-handed (${RUNS} runs)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(actor, { minLength: 2, maxLength: 8 }), async (actors) => {
          const inside = new Map<string, Map<number, "exclusive" | "shared">>([
            ["a", new Map()],
            ["b", new Map()],
          ]);
          const maxToken = new Map<string, number>([
            ["a", 0],
            ["b", 0],
          ]);
          const problems: string[] = [];
          await Promise.all(
            actors.map(async (a) => {
              const b = shared.backends[a.backend]!;
              let lock: RemoteLockHandle | undefined;
              if (a.how === "try") {
                lock = await b.tryAcquireLock(a.name, { mode: a.mode });
              } else if (a.how === "abort") {
                const ac = new AbortController();
                const p = b.acquireLock(a.name, { mode: a.mode, signal: ac.signal });
                for (let i = 0; i < a.abortAfterTicks; i++) await tick();
                ac.abort(new Error("gave up"));
                lock = await p.catch((err) => {
                  if (!(err instanceof AbortError)) problems.push(`abort rejected with ${err}`);
                  return undefined;
                });
              } else {
                lock = await b.acquireLock(a.name, { mode: a.mode });
              }
              if (lock === undefined) return;
              const holders = inside.get(a.name)!;
              const others = [...holders.values()];
              if (a.mode === "exclusive" && others.length > 0) {
                problems.push(`exclusive ${a.name} entered with ${others.join(",")} inside`);
              }
              if (others.includes("exclusive"))
                problems.push(`${a.mode} ${a.name} entered beside an exclusive`);
              if (a.mode === "exclusive" && lock.token <= maxToken.get(a.name)!) {
                problems.push(`exclusive token ${lock.token} not above ${maxToken.get(a.name)}`);
              }
              maxToken.set(a.name, Math.max(maxToken.get(a.name)!, lock.token));
              holders.set(lock.token, a.mode);
              for (let i = 0; i < a.holdRoundTrips; i++) await b.readLockHolder(a.name);
              await tick();
              holders.delete(lock.token);
              await lock.release();
            }),
          );
          expect(problems).toEqual([]);
          expect(await locksOf(shared.namespace, "a")).toEqual([]);
          expect(await locksOf(shared.namespace, "b")).toEqual([]);
        }),
        { numRuns: RUNS },
      );
    },
    process.env.INTERLOCK_STRESS === "1" ? 180_000 : 30_000,
  );
});
