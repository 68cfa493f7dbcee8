// Property: under any interleaving an RWLock lets readers share and writers exclude,
// grants strictly in arrival order, and everybody eventually gets in (no starvation).
import fc from "fast-check";
import { expect, it } from "vitest";
import { KeyedRWLock, type Releaser, RWLock } from "../src/index.js";
import { Journal, step } from "./helpers/schedule.js";

interface Lock {
  read(o: { signal: AbortSignal }): Promise<Releaser>;
  write(o: { signal: AbortSignal }): Promise<Releaser & { downgrade(): Releaser }>;
  idle(): boolean;
}

const makers: Record<string, () => Lock> = {
  RWLock: () => {
    const l = new RWLock();
    return {
      read: (o) => l.readLock(o),
      write: (o) => l.writeLock(o),
      idle: () => l.readers === 0 && !l.isWriteLocked && l.waiting === 0,
    };
  },
  KeyedRWLock: () => {
    const l = new KeyedRWLock<string>();
    return {
      read: (o) => l.readLock("k", o),
      write: (o) => l.writeLock("k", o),
      idle: () => l.size === 0,
    };
  },
};

for (const [name, make] of Object.entries(makers)) {
  it(`${name}: readers share, writers exclude, FIFO grants, no starvation`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(
          fc.record({
            kind: fc.constantFrom("read", "read", "write", "write-downgrade"),
            abort: fc.boolean(),
            work: fc.integer({ min: 0, max: 2 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        async (s, tasks) => {
          const l = make();
          const j = new Journal();
          let readers = 0;
          let writers = 0;
          const check = () => {
            expect(writers).toBeLessThanOrEqual(1);
            if (writers === 1) expect(readers).toBe(0);
          };
          const run = async (id: number, t: (typeof tasks)[number]) => {
            await step(s, `arrive ${id}`);
            const ac = new AbortController();
            if (t.abort) void step(s, `abort ${id}`).then(() => ac.abort());
            const isRead = t.kind === "read";
            let handle = await j.take(id, () =>
              isRead ? l.read({ signal: ac.signal }) : l.write({ signal: ac.signal }),
            );
            if (handle === undefined) return;
            if (isRead) readers++;
            else writers++;
            check();
            for (let k = 0; k < t.work; k++) await step(s, `work ${id}.${k}`);
            if (t.kind === "write-downgrade") {
              const read = (handle as Releaser & { downgrade(): Releaser }).downgrade();
              writers--;
              readers++;
              check();
              await step(s, `downgraded ${id}`);
              handle = read;
              readers--;
            } else if (isRead) readers--;
            else writers--;
            handle.release();
            j.finish(id);
          };
          await j.runAll(s, tasks.length, (id) => run(id, tasks[id]!));
          j.expectFifo();
          expect(l.idle()).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
}
