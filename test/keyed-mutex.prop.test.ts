// Property: per-key exclusion and per-key FIFO under any interleaving, multi-key
// acquisitions in arbitrary orders never deadlock, and every idle key is forgotten.
import fc from "fast-check";
import { expect, it } from "vitest";
import { KeyedMutex, type Releaser } from "../src/index.js";
import { Journal, step } from "./helpers/schedule.js";

const keyArb = fc.constantFrom("a", "b", "c", "d");

it("per-key exclusion and FIFO, acquireMany deadlock-free, size back to 0", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.array(
        fc.record({
          keys: fc.array(keyArb, { minLength: 1, maxLength: 4 }),
          abort: fc.boolean(),
          work: fc.integer({ min: 0, max: 2 }),
        }),
        { minLength: 1, maxLength: 10 },
      ),
      async (s, tasks) => {
        const km = new KeyedMutex<string>();
        const j = new Journal();
        const perKey = new Map<string, Journal>();
        const holders = new Map<string, number>();
        const run = async (id: number, t: (typeof tasks)[number]) => {
          await step(s, `arrive ${id}`);
          const single = t.keys.length === 1;
          const key = t.keys[0]!;
          if (single) {
            if (!perKey.has(key)) perKey.set(key, new Journal());
            perKey.get(key)!.arrive(id);
          }
          const ac = new AbortController();
          if (t.abort) void step(s, `abort ${id}`).then(() => ac.abort());
          let handle: Releaser;
          try {
            handle = single
              ? await km.acquire(key, { signal: ac.signal })
              : await km.acquireMany(t.keys, { signal: ac.signal });
          } catch (err) {
            j.cancel(id, err);
            return j.finish(id);
          }
          j.grant(id);
          if (single) perKey.get(key)!.grants.push(id);
          const distinct = [...new Set(t.keys)];
          for (const k of distinct) {
            holders.set(k, (holders.get(k) ?? 0) + 1);
            expect(holders.get(k)).toBe(1);
            expect(km.isLocked(k)).toBe(true);
          }
          for (let k = 0; k < t.work; k++) await step(s, `work ${id}.${k}`);
          for (const k of distinct) holders.set(k, holders.get(k)! - 1);
          handle.release();
          j.finish(id);
        };
        await j.runAll(s, tasks.length, (id) => run(id, tasks[id]!)); // nobody stuck: no deadlock
        for (const pj of perKey.values()) pj.expectFifo();
        expect(km.size).toBe(0);
      },
    ),
    { numRuns: 300 },
  );
});
