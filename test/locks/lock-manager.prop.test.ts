// LockManager in one thread under scheduled interleavings (fc.scheduler decides when
// each callback's promise settles and when each abort fires): conflicting holders never
// overlap, grants of a name follow request order, ifAvailable answers as a model of the
// queue says, an aborted waiter never runs, and nothing is left held or pending.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LockManager } from "../../src/index.js";
import { useTempDir } from "../helpers/temp-dir.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const newTempDir = useTempDir();

const requestArb = fc.record({
  name: fc.constantFrom("a", "b"),
  mode: fc.constantFrom("exclusive" as const, "shared" as const),
  kind: fc.constantFrom("plain", "ifAvailable", "abortable"),
});
type Req = typeof requestArb extends fc.Arbitrary<infer R> ? R : never;

/** Which ifAvailable requests must get null, from the queue state when each is made. */
function expectedNulls(reqs: Req[]): Set<number> {
  const nulls = new Set<number>();
  const state = new Map<string, { holders: string[]; queued: number }>();
  reqs.forEach((r, i) => {
    let s = state.get(r.name);
    if (s === undefined) state.set(r.name, (s = { holders: [], queued: 0 }));
    const compatible =
      s.holders.length === 0 || (r.mode === "shared" && s.holders.every((m) => m === "shared"));
    if (s.queued === 0 && compatible) s.holders.push(r.mode);
    else if (r.kind === "ifAvailable") nulls.add(i);
    else s.queued++;
  });
  return nulls;
}

describe("LockManager under scheduled interleavings", () => {
  it("exclusion, FIFO grants per name, ifAvailable as modelled, aborted waiters never run", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(requestArb, { minLength: 1, maxLength: stress ? 16 : 8 }),
        async (s, reqs) => {
          const locks = new LockManager({ dir: newTempDir() });
          const holding = new Map<string, { exclusive: number; shared: number }>();
          const startOrder = new Map<string, number[]>();
          const started = new Set<number>();
          const conflicts: string[] = [];
          const results = reqs.map((r, i) => {
            const ac = r.kind === "abortable" ? new AbortController() : undefined;
            const options =
              r.kind === "ifAvailable"
                ? { mode: r.mode, ifAvailable: true }
                : { mode: r.mode, signal: ac?.signal };
            const done = locks.request(r.name, options, async (lock) => {
              if (lock === null) return "null";
              started.add(i);
              const h = holding.get(r.name) ?? { exclusive: 0, shared: 0 };
              holding.set(r.name, h);
              if (h.exclusive > 0 || (r.mode === "exclusive" && h.shared > 0)) {
                conflicts.push(
                  `${i} (${r.mode} ${r.name}) granted while held ${JSON.stringify(h)}`,
                );
              }
              h[r.mode]++;
              startOrder.set(r.name, [...(startOrder.get(r.name) ?? []), i]);
              await s.schedule(Promise.resolve(), `release ${i}`);
              h[r.mode]--;
              return "ran";
            });
            if (ac !== undefined) {
              void s.schedule(Promise.resolve(), `abort ${i}`).then(() => {
                if (!started.has(i)) ac.abort(new Error(`abort ${i}`));
              });
            }
            return done.then(
              (v) => v,
              (err: Error) => {
                expect(err.name).toBe("AbortError");
                expect((err.cause as Error).message).toBe(`abort ${i}`);
                expect(started.has(i)).toBe(false);
                return "aborted";
              },
            );
          });
          const outcome = await s.waitFor(Promise.all(results));
          expect(conflicts).toEqual([]);
          for (const order of startOrder.values()) {
            expect(order).toEqual([...order].sort((x, y) => x - y));
          }
          const nulls = expectedNulls(reqs);
          outcome.forEach((o, i) => {
            if (reqs[i]!.kind === "ifAvailable") expect(o).toBe(nulls.has(i) ? "null" : "ran");
            else if (reqs[i]!.kind === "plain") expect(o).toBe("ran");
          });
          expect(await locks.query()).toEqual({ held: [], pending: [] });
        },
      ),
      { numRuns: stress ? 500 : 60 },
    );
  }, 60_000);
});
