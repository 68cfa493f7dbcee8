// Random concurrent schedules of backend.locks requests against a real server: actors on
// several backends take two names in either mode, wait, ask only if available, or give
// up (abort or timeout) while queued, and hold across server round trips. At every grant
// the holders of a name must be compatible and an exclusive token above every token of
// that name granted before; a request that gave up never runs its callback; while a
// request holds, another client's query() shows it held; afterwards nothing is left: no
// lock in pg_locks, no entry in any client's query(), no lock_requests row.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sql } from "./cluster.js";
import { locksOf, pgUrl, useSharedBackends } from "./helpers.js";

const RUNS = process.env.INTERLOCK_STRESS === "1" ? 60 : 8;
const tick = () => new Promise<void>((r) => setImmediate(r));

const actor = fc.record({
  backend: fc.integer({ min: 0, max: 2 }),
  name: fc.constantFrom("a", "b"),
  mode: fc.constantFrom("exclusive" as const, "shared" as const),
  how: fc.constantFrom("wait", "wait", "ifAvailable", "abort", "timeout"),
  giveUpAfterTicks: fc.integer({ min: 0, max: 6 }),
  holdRoundTrips: fc.integer({ min: 0, max: 2 }),
  look: fc.boolean(),
});

describe("random backend.locks schedules", () => {
  const shared = useSharedBackends(3);

  it(
    `keep holders compatible and visible, tokens rising, and leave nothing behind (${RUNS} runs)`,
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
            actors.map(async (a, i) => {
              const b = shared.backends[a.backend]!;
              const other = shared.backends[(a.backend + 1) % shared.backends.length]!;
              const ac = new AbortController();
              const options =
                a.how === "ifAvailable"
                  ? { mode: a.mode, ifAvailable: true }
                  : a.how === "abort"
                    ? { mode: a.mode, signal: ac.signal }
                    : a.how === "timeout"
                      ? { mode: a.mode, timeoutMs: 1 + a.giveUpAfterTicks * 5 }
                      : { mode: a.mode };
              const gaveUp = a.how === "abort" || a.how === "timeout";
              let ran = false;
              const done = b.locks.request(a.name, options, async (lock) => {
                if (lock === null) return;
                ran = true;
                const holders = inside.get(a.name)!;
                const others = [...holders.values()];
                if (a.mode === "exclusive" && others.length > 0) {
                  problems.push(
                    `#${i}: exclusive ${a.name} entered with ${others.join(",")} inside`,
                  );
                }
                if (others.includes("exclusive")) {
                  problems.push(`#${i}: ${a.mode} ${a.name} entered beside an exclusive`);
                }
                if (a.mode === "exclusive" && lock.token <= maxToken.get(a.name)!) {
                  problems.push(`#${i}: token ${lock.token} not above ${maxToken.get(a.name)}`);
                }
                maxToken.set(a.name, Math.max(maxToken.get(a.name)!, lock.token));
                holders.set(lock.token, a.mode);
                if (a.look) {
                  const { held } = await other.locks.query();
                  const mine = held.filter(
                    (e) => e.name === a.name && e.clientId === b.locks.clientId,
                  );
                  if (!mine.some((e) => e.mode === a.mode)) {
                    problems.push(`#${i}: another client's query() missed this ${a.mode} holder`);
                  }
                }
                for (let k = 0; k < a.holdRoundTrips; k++) await b.readLockHolder(a.name);
                await tick();
                holders.delete(lock.token);
              });
              if (a.how === "abort") {
                for (let k = 0; k < a.giveUpAfterTicks; k++) await tick();
                ac.abort(new Error("gave up"));
              }
              const outcome = await done.then(
                () => undefined,
                (err: { code?: string }) => err,
              );
              if (outcome !== undefined) {
                if (!gaveUp) problems.push(`#${i}: rejected with ${outcome}`);
                else if (outcome.code !== "ABORT_ERR" && outcome.code !== "ELOCKTIMEOUT") {
                  problems.push(`#${i}: gave up with ${outcome}`);
                }
                if (ran) problems.push(`#${i}: its callback ran, yet it rejected`);
              }
            }),
          );
          expect(problems).toEqual([]);
          expect(await locksOf(shared.namespace, "a")).toEqual([]);
          expect(await locksOf(shared.namespace, "b")).toEqual([]);
          for (const b of shared.backends)
            expect(await b.locks.query()).toEqual({ held: [], pending: [] });
          const rows = await sql(
            pgUrl(),
            "SELECT client, seq FROM interlock.lock_requests WHERE client = ANY($1)",
            [shared.backends.map((b) => b.locks.clientId)],
          );
          expect(rows).toEqual([]);
        }),
        { numRuns: RUNS },
      );
    },
    process.env.INTERLOCK_STRESS === "1" ? 240_000 : 60_000,
  );
});
