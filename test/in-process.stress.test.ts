// Many real tasks on the real event loop (no scheduler): random holds, aborts and
// timeouts against every primitive at once, checking the invariants as they run.
// Default suite: a few thousand operations; `npm run test:stress`: a few hundred thousand.
import fc from "fast-check";
import { expect, it } from "vitest";
import { KeyedMutex, KeyedRWLock, Mutex, type Releaser, RWLock, Semaphore } from "../src/index.js";

const SCALE = process.env.INTERLOCK_STRESS === "1" ? 100 : 1;
const TASKS = 200;
const ROUNDS = 10 * SCALE;

it(`${TASKS} tasks × ${ROUNDS} rounds keep every invariant under random cancellation`, async () => {
  const rng = fc.sample(fc.integer({ min: 0, max: 999 }), { numRuns: TASKS * ROUNDS, seed: 42 });
  let r = 0;
  const next = () => rng[r++ % rng.length]!;

  const mutex = new Mutex();
  const sem = new Semaphore(5);
  const km = new KeyedMutex<number>();
  const rw = new RWLock();
  const krw = new KeyedRWLock<number>();
  let inMutex = 0;
  let semOut = 0;
  const inKey = new Map<number, number>();
  let readers = 0;
  let writers = 0;
  let cancelled = 0;

  const hold = async () => {
    for (let i = next() % 3; i > 0; i--) await new Promise<void>((res) => setImmediate(res));
  };
  const options = () => {
    const roll = next();
    if (roll < 100) return { signal: AbortSignal.abort() };
    if (roll < 200) return { timeoutMs: roll % 3 };
    return undefined;
  };
  const attempt = async (take: () => Promise<Releaser>, body: () => Promise<void>) => {
    let h: Releaser;
    try {
      h = await take();
    } catch (err) {
      expect((err as Error).name).toMatch(/AbortError|LockTimeoutError/);
      cancelled++;
      return;
    }
    try {
      await body();
    } finally {
      h.release();
    }
  };

  const task = async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const which = next() % 5;
      if (which === 0) {
        await attempt(
          () => mutex.acquire(options()),
          async () => {
            expect(++inMutex).toBe(1);
            await hold();
            inMutex--;
          },
        );
      } else if (which === 1) {
        const weight = 1 + (next() % 5);
        await attempt(
          () => sem.acquire({ ...options(), weight }),
          async () => {
            semOut += weight;
            expect(semOut).toBeLessThanOrEqual(5);
            await hold();
            semOut -= weight;
          },
        );
      } else if (which === 2) {
        const keys = [next() % 8, next() % 8];
        await attempt(
          () => km.acquireMany(keys, options()),
          async () => {
            for (const k of new Set(keys)) {
              inKey.set(k, (inKey.get(k) ?? 0) + 1);
              expect(inKey.get(k)).toBe(1);
            }
            await hold();
            for (const k of new Set(keys)) inKey.set(k, inKey.get(k)! - 1);
          },
        );
      } else if (which === 3) {
        const write = next() % 10 === 0;
        await attempt(
          () => (write ? rw.writeLock(options()) : rw.readLock(options())),
          async () => {
            if (write) writers++;
            else readers++;
            expect(writers === 0 || (writers === 1 && readers === 0)).toBe(true);
            await hold();
            if (write) writers--;
            else readers--;
          },
        );
      } else {
        const key = next() % 4;
        await attempt(
          () => (next() % 4 === 0 ? krw.writeLock(key, options()) : krw.readLock(key, options())),
          hold,
        );
      }
    }
  };

  await Promise.all(Array.from({ length: TASKS }, task));
  expect(cancelled).toBeGreaterThan(0);
  expect(mutex.isLocked).toBe(false);
  expect(sem.available).toBe(5);
  expect(km.size).toBe(0);
  expect(rw.readers + rw.waiting).toBe(0);
  expect(krw.size).toBe(0);
}, 600_000);
