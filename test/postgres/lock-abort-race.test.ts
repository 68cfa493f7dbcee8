// An abort that lands just as the server grants the lock: the waiter must reject with
// AbortError and hold nothing; never reject while its session still holds the lock, and
// never resolve after its signal aborted. The race is provoked by releasing the holder and aborting the waiter
// in the same tick: the grant usually reaches the waiter before the cancel request
// reaches the server. A private schema makes skipped tokens countable: each raced grant
// consumed one.
import { describe, expect, it } from "vitest";
import { AbortError } from "../../src/errors.js";
import { locksOf, useBackends } from "./helpers.js";

const connect = useBackends();
const ITERATIONS = process.env.INTERLOCK_STRESS === "1" ? 300 : 40;

describe("abort racing a grant", () => {
  it(
    `never leaves a rejected waiter holding the lock (${ITERATIONS} rounds)`,
    async () => {
      const schema = "interlock_race";
      const a = await connect({ schema });
      const b = await connect({ schema });
      let raced = 0;
      let aborted = 0;
      let granted = 0;
      let last = 0;
      for (let i = 0; i < ITERATIONS; i++) {
        const held = await a.acquireLock("race");
        if (last !== 0 && held.token > last + 1) raced += held.token - last - 1;
        const ac = new AbortController();
        const waiting = b.acquireLock("race", { signal: ac.signal }).then(
          (lock) => lock,
          (err: unknown) => err,
        );
        // Let the waiter's statement reach the server's queue (or not: both are fine).
        await new Promise((r) => setImmediate(r));
        const releasing = held.release();
        ac.abort(new Error("round over"));
        await releasing;
        const outcome = await waiting;
        if (outcome instanceof AbortError) {
          aborted++;
          // Rejected: nothing of b's may hold the lock once the promise settled.
          expect(await locksOf(a.namespace, "race")).toEqual([]);
          last = held.token;
        } else {
          if (outcome instanceof Error) throw outcome;
          const lock = outcome as Awaited<ReturnType<typeof b.acquireLock>>;
          granted++;
          last = lock.token;
          await lock.release();
        }
      }
      console.log(
        `abort race: ${aborted} aborted (${raced} of them after the server granted), ${granted} granted`,
      );
      // The abort is issued in the tick that sends the holder's unlock, before the server
      // can grant the waiter anything: every round must end in AbortError.
      expect(granted).toBe(0);
    },
    process.env.INTERLOCK_STRESS === "1" ? 180_000 : 30_000,
  );
});
