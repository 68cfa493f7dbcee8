// Property: weighted requests under any interleaving never exceed the permits, are
// granted in arrival order (a large head is never overtaken) and cancelled ones vanish.
import fc from "fast-check";
import { expect, it } from "vitest";
import { type Releaser, Semaphore } from "../src/index.js";
import { Journal, step } from "./helpers/schedule.js";

it("permits never exceeded, weighted FIFO, cancelled waiters never granted", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.integer({ min: 1, max: 5 }),
      fc.array(
        fc.record({
          weight: fc.integer({ min: 1, max: 5 }),
          kind: fc.constantFrom("wait", "wait", "abort", "zero-timeout", "try"),
          work: fc.integer({ min: 0, max: 2 }),
        }),
        { minLength: 1, maxLength: 12 },
      ),
      async (s, capacity, tasks) => {
        const sem = new Semaphore(capacity);
        const j = new Journal();
        let out = 0;
        const run = async (id: number, t: (typeof tasks)[number]) => {
          const weight = Math.min(t.weight, capacity);
          await step(s, `arrive ${id}`);
          let handle: Releaser | undefined;
          if (t.kind === "try") {
            const queued = sem.waiting;
            handle = sem.tryAcquire(weight);
            if (handle === undefined) return j.finish(id);
            expect(queued).toBe(0);
          } else {
            const ac = new AbortController();
            if (t.kind === "abort") void step(s, `abort ${id}`).then(() => ac.abort());
            handle = await j.take(id, () =>
              sem.acquire({
                weight,
                signal: ac.signal,
                timeoutMs: t.kind === "zero-timeout" ? 0 : undefined,
              }),
            );
            if (handle === undefined) return;
          }
          out += weight;
          expect(out).toBeLessThanOrEqual(capacity);
          for (let k = 0; k < t.work; k++) await step(s, `work ${id}.${k}`);
          out -= weight;
          handle.release();
          j.finish(id);
        };
        await j.runAll(s, tasks.length, (id) => run(id, tasks[id]!));
        j.expectFifo();
        expect(sem.available).toBe(capacity);
        expect(sem.waiting).toBe(0);
      },
    ),
    { numRuns: 300 },
  );
});
