// Property: whatever the interleaving of arrivals, aborts, zero-timeout attempts,
// tryAcquire calls and critical sections, a Mutex keeps exclusion and strict FIFO.
import fc from "fast-check";
import { expect, it } from "vitest";
import { Mutex } from "../src/index.js";
import { Journal, step } from "./helpers/schedule.js";

const taskArb = fc.record({
  kind: fc.constantFrom("wait", "wait", "wait", "abort", "zero-timeout", "try"),
  work: fc.integer({ min: 0, max: 2 }),
});

it("exclusion, FIFO grants, cancelled waiters never granted, no ghosts", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(taskArb, { minLength: 1, maxLength: 12 }),
      async (s, tasks) => {
        const m = new Mutex();
        const j = new Journal();
        let holders = 0;
        const run = async (id: number, t: (typeof tasks)[number]) => {
          await step(s, `arrive ${id}`);
          let handle: ReturnType<Mutex["tryAcquire"]>;
          if (t.kind === "try") {
            const queued = m.waiting;
            handle = m.tryAcquire();
            if (handle === undefined) return j.finish(id);
            expect(queued).toBe(0); // tryAcquire never barges past a queued waiter
          } else {
            const ac = new AbortController();
            if (t.kind === "abort") void step(s, `abort ${id}`).then(() => ac.abort(id));
            handle = await j.take(id, () =>
              m.acquire({
                signal: t.kind === "abort" ? ac.signal : undefined,
                timeoutMs: t.kind === "zero-timeout" ? 0 : undefined,
              }),
            );
            if (handle === undefined) return;
          }
          holders++;
          expect(holders).toBe(1);
          for (let k = 0; k < t.work; k++) await step(s, `work ${id}.${k}`);
          holders--;
          handle.release();
          handle.release();
          j.finish(id);
        };
        await j.runAll(s, tasks.length, (id) => run(id, tasks[id]!));
        j.expectFifo();
        expect(m.isLocked).toBe(false);
        expect(m.waiting).toBe(0);
      },
    ),
    { numRuns: 300 },
  );
});
