// N processes × M read-modify-write increments of a counter row that nothing but the
// lock protects, with every hold logged to an append-only table; then a checker over
// that log: no exclusive hold overlaps another hold, and tokens rise in grant order.
// The unlocked control shows the counter test can fail.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgChild } from "./child.js";
import { sql } from "./cluster.js";
import { freshNamespace, pgUrl } from "./helpers.js";

const STRESS = process.env.INTERLOCK_STRESS === "1";
const N = STRESS ? 8 : 4;
const M = STRESS ? 300 : 40;
/** Every SHARED_EVERY-th hold of a child is a shared one (logged, no increment). */
const SHARED_EVERY = 5;

interface LogRow {
  token: string;
  mode: "exclusive" | "shared";
  event: "enter" | "exit";
  client: number;
}

/** Violations of mutual exclusion and token order in a log ordered by server sequence. */
function checkHolds(rows: LogRow[]): string[] {
  const problems: string[] = [];
  const inside = new Map<number, "exclusive" | "shared">();
  const seen = new Set<number>();
  let maxToken = 0;
  let maxExclusive = 0;
  for (const r of rows) {
    const token = Number(r.token);
    if (r.event === "exit") {
      inside.delete(token);
      continue;
    }
    if (seen.has(token)) problems.push(`token ${token} granted twice`);
    seen.add(token);
    const others = [...inside.entries()];
    if (r.mode === "exclusive" && others.length > 0) {
      problems.push(
        `exclusive ${token} entered while ${others.map(([t, m]) => `${m} ${t}`).join(", ")} held`,
      );
    }
    if (r.mode === "shared" && others.some(([, m]) => m === "exclusive")) {
      problems.push(`shared ${token} entered while an exclusive hold was inside`);
    }
    if (r.mode === "exclusive" && token <= maxToken) {
      problems.push(`exclusive token ${token} not above earlier token ${maxToken}`);
    }
    if (token <= maxExclusive) problems.push(`token ${token} not above exclusive ${maxExclusive}`);
    maxToken = Math.max(maxToken, token);
    if (r.mode === "exclusive") maxExclusive = token;
    inside.set(token, r.mode);
  }
  return problems;
}

describe("locks across processes", () => {
  const counter = "interlock_test.counter";
  const log = "interlock_test.holds";

  let children: PgChild[] = [];

  beforeAll(async () => {
    children = await Promise.all(Array.from({ length: N }, () => PgChild.start(true)));
    await sql(
      pgUrl(),
      `CREATE SCHEMA IF NOT EXISTS interlock_test;
       CREATE TABLE IF NOT EXISTS ${counter} (run text PRIMARY KEY, n int NOT NULL);
       CREATE TABLE IF NOT EXISTS ${log} (seq bigserial PRIMARY KEY, run text, token bigint, mode text, event text, client int)`,
    ).catch(async () => {
      // Another file created them concurrently; they exist now.
    });
  });

  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill()));
  });

  async function start(namespace: string): Promise<PgChild[]> {
    await Promise.all(children.map((c) => c.request({ op: "connect", url: pgUrl(), namespace })));
    return children;
  }

  it(
    `${N} processes × ${M} increments under the lock lose nothing; the hold log shows exclusion and rising tokens`,
    async () => {
      const run = randomUUID();
      await sql(pgUrl(), `INSERT INTO ${counter} (run, n) VALUES ($1, 0)`, [run]);
      await start(freshNamespace());
      await Promise.all(
        children.map((c) =>
          c.request({
            op: "increments",
            url: pgUrl(),
            table: counter,
            log,
            run,
            name: "counter",
            count: M,
            locked: true,
            sharedEvery: SHARED_EVERY,
          }),
        ),
      );
      const increments = N * (M - Math.floor(M / SHARED_EVERY));
      const n = (
        await sql<{ n: number }>(pgUrl(), `SELECT n FROM ${counter} WHERE run = $1`, [run])
      )[0]!.n;
      expect(n).toBe(increments);
      const rows = await sql<LogRow>(
        pgUrl(),
        `SELECT token, mode, event, client FROM ${log} WHERE run = $1 ORDER BY seq`,
        [run],
      );
      expect(rows).toHaveLength(2 * N * M);
      expect(checkHolds(rows)).toEqual([]);
      expect(new Set(rows.filter((r) => r.mode === "shared").map((r) => r.client)).size).toBe(N);
    },
    STRESS ? 300_000 : 30_000,
  );

  it("the same increments without the lock lose updates (negative control, reported)", async () => {
    const run = randomUUID();
    await sql(pgUrl(), `INSERT INTO ${counter} (run, n) VALUES ($1, 0)`, [run]);
    await start(freshNamespace());
    await Promise.all(
      children.map((c) =>
        c.request({
          op: "increments",
          url: pgUrl(),
          table: counter,
          log,
          run,
          count: M,
          locked: false,
        }),
      ),
    );
    const n = (
      await sql<{ n: number }>(pgUrl(), `SELECT n FROM ${counter} WHERE run = $1`, [run])
    )[0]!.n;
    console.log(`unlocked control: ${n} of ${N * M} increments survived`);
    expect(n).toBeLessThanOrEqual(N * M);
  });

  it("the checker catches overlapping exclusive holds and falling tokens", () => {
    expect(
      checkHolds([
        { token: "1", mode: "exclusive", event: "enter", client: 1 },
        { token: "2", mode: "exclusive", event: "enter", client: 2 },
        { token: "1", mode: "exclusive", event: "exit", client: 1 },
        { token: "2", mode: "exclusive", event: "exit", client: 2 },
        { token: "3", mode: "shared", event: "enter", client: 1 },
        { token: "2", mode: "exclusive", event: "enter", client: 2 },
      ]),
    ).toEqual([
      "exclusive 2 entered while exclusive 1 held",
      "token 2 granted twice",
      "exclusive 2 entered while shared 3 held",
      "exclusive token 2 not above earlier token 3",
      "token 2 not above exclusive 2",
    ]);
  });
});
