// backend.locks across real processes and one real server: exclusion (N processes × M
// increments through request(), with a checker over the log of holds: no overlap with an
// exclusive hold, tokens strictly rising), query() from a third process seeing the
// holder and the waiters of two others, then nothing once they are SIGKILLed or their
// sessions terminated, shared holders of different processes overlapping, and steal,
// timeout and ifAvailable against another process's holder.
import { randomUUID } from "node:crypto";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LockStealError, type PostgresBackend } from "../../src/postgres/index.js";
import { LocksClient } from "../locks/helpers.js";
import { sql } from "./cluster.js";
import { locksOf, pgUrl, terminate, until, useBackends } from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const fixture = new URL("../fixtures/postgres-locks-child.ts", import.meta.url);
const connect = useBackends();
let backend: PostgresBackend;

beforeEach(async () => {
  backend = await connect();
});

const start = (n: number) =>
  Promise.all(
    Array.from({ length: n }, () =>
      LocksClient.process(JSON.stringify({ url: pgUrl(), namespace: backend.namespace }), {
        fixture,
      }),
    ),
  );

const counter = "interlock_lm_test.counter";
const log = "interlock_lm_test.holds";

beforeAll(async () => {
  await sql(
    pgUrl(),
    `CREATE SCHEMA IF NOT EXISTS interlock_lm_test;
     CREATE TABLE IF NOT EXISTS ${counter} (run text PRIMARY KEY, n int NOT NULL);
     CREATE TABLE IF NOT EXISTS ${log} (seq bigserial PRIMARY KEY, run text, token bigint, mode text, event text, client int)`,
  );
});

interface LogRow {
  token: string;
  mode: "exclusive" | "shared";
  event: "enter" | "exit";
}

/**
 * Violations of exclusion and token order in a log of holds ordered by a server
 * sequence: an exclusive hold overlaps no other, a shared one no exclusive one; an
 * exclusive token is above every earlier token, a shared one above the last exclusive
 * (shared holders granted together log their entries in any order).
 */
function checkHolds(rows: LogRow[]): string[] {
  const problems: string[] = [];
  const inside = new Map<number, string>();
  let maxToken = 0;
  let maxExclusive = 0;
  for (const r of rows) {
    const token = Number(r.token);
    if (r.event === "exit") {
      inside.delete(token);
      continue;
    }
    const modes = [...inside.values()];
    if (r.mode === "exclusive") {
      if (modes.length > 0) problems.push(`exclusive ${token} entered while ${modes.length} held`);
      if (token <= maxToken) problems.push(`exclusive ${token} entered after token ${maxToken}`);
      maxExclusive = token;
    } else {
      if (modes.includes("exclusive")) problems.push(`shared ${token} entered inside an exclusive`);
      if (token <= maxExclusive)
        problems.push(`shared ${token} entered after exclusive ${maxExclusive}`);
    }
    maxToken = Math.max(maxToken, token);
    inside.set(token, r.mode);
  }
  return problems;
}

/** Waits until the server has no lock of `name`, held or awaited, left. */
const serverFree = (name: string) =>
  until(
    async () => ((await locksOf(backend.namespace, name)).length === 0 ? true : undefined),
    `the server to drop every lock of ${name}`,
  );

/**
 * Waits until `name`'s holder shows with its holder fields: a hold gets its full record
 * once it has lasted 25 ms (until then query() names it, without `holder`).
 */
const recorded = (name: string) =>
  until(async () => {
    const { held } = await backend.locks.query();
    return held.some((e) => e.name === name && e.holder !== undefined) ? true : undefined;
  }, `the record of ${name}'s holder`);

describe("backend.locks across processes", () => {
  const processes = stress ? 8 : 4;
  const each = stress ? 200 : 25;

  it(
    `${processes} processes × ${each} increments through request() lose none; holds never overlap an exclusive one and tokens rise (the unlocked control loses some)`,
    async () => {
      const children = await start(processes);
      const run = randomUUID();
      await sql(pgUrl(), `INSERT INTO ${counter} (run, n) VALUES ($1, 0)`, [run]);
      const cmd = { op: "increment", name: "counter", table: counter, log, run, count: each };
      await Promise.all(children.map((c) => c.run({ ...cmd, locked: true, sharedEvery: 5 })));
      const exclusive = each - Math.floor(each / 5);
      const [row] = await sql<{ n: number }>(pgUrl(), `SELECT n FROM ${counter} WHERE run = $1`, [
        run,
      ]);
      expect(row!.n).toBe(processes * exclusive);
      const rows = await sql<LogRow>(
        pgUrl(),
        `SELECT token::text, mode, event FROM ${log} WHERE run = $1 ORDER BY seq`,
        [run],
      );
      expect(rows).toHaveLength(2 * processes * each);
      expect(checkHolds(rows)).toEqual([]);

      // Negative control (reported, not asserted: it depends on timing).
      const control = randomUUID();
      await sql(pgUrl(), `INSERT INTO ${counter} (run, n) VALUES ($1, 0)`, [control]);
      await Promise.all(children.map((c) => c.run({ ...cmd, run: control, locked: false })));
      const [after] = await sql<{ n: number }>(pgUrl(), `SELECT n FROM ${counter} WHERE run = $1`, [
        control,
      ]);
      console.log(
        `negative control, no lock: ${processes * each - after!.n} of ${processes * each} increments lost`,
      );
    },
    stress ? 300_000 : 60_000,
  );

  it("query() from a third process sees the holder and the waiters of two others (queued on the server and in their process), then nothing after SIGKILL of all", async () => {
    const [holder, a, b] = await start(3);
    const h = await holder!.hold("deploy", { holder: { purpose: "deploy v2" } });
    await h.granted;
    await a!.hold("deploy");
    await until(
      async () => ((await backend.locks.query()).pending.length === 1 ? true : undefined),
      "a's waiter",
    );
    await b!.hold("deploy", { mode: "shared", holder: { purpose: "read" } });
    await until(
      async () => ((await backend.locks.query()).pending.length === 2 ? true : undefined),
      "b's waiter",
    );
    // A second request of a: queued in a's process behind its first.
    await a!.hold("deploy", { mode: "shared" });
    const snap = await until(async () => {
      const s = await backend.locks.query();
      // The holder's fields show once its record is written (at 25 ms): wait for that too.
      return s.pending.length === 3 && s.held[0]?.holder !== undefined ? s : undefined;
    }, "a's second waiter and the holder's record");
    expect(snap.held).toEqual([
      expect.objectContaining({
        name: "deploy",
        mode: "exclusive",
        pid: holder!.pid,
        clientId: holder!.clientId,
        holder: { purpose: "deploy v2" },
      }),
    ]);
    expect(snap.pending.map((p) => [p.pid, p.mode, p.clientId])).toEqual([
      [a!.pid, "exclusive", a!.clientId],
      [b!.pid, "shared", b!.clientId],
      [a!.pid, "shared", a!.clientId],
    ]);
    expect(snap.pending[1]!.holder).toEqual({ purpose: "read" });
    // The same from one of the waiters' point of view (it sees itself from memory).
    const fromA = (await a!.run({ op: "query" })).snapshot;
    const withoutSince = (s: typeof snap) => ({
      held: s.held.map(({ since: _, ...e }) => e),
      pending: s.pending.map(({ since: _, ...e }) => e),
    });
    expect(withoutSince(fromA)).toEqual(withoutSince(snap));

    await Promise.all([holder!.kill(), a!.kill(), b!.kill()]);
    // Once the server has ended their sessions, nothing of them shows.
    await serverFree("deploy");
    expect(await backend.locks.query()).toEqual({ held: [], pending: [] });
  });

  it("query() shows nothing of clients whose sessions were terminated (pg_terminate_backend), though their processes live", async () => {
    const [holder, a, b] = await start(3);
    const h = await holder!.hold("deploy");
    await h.granted;
    await a!.hold("deploy");
    await b!.hold("deploy", { mode: "shared" });
    await until(
      async () => ((await backend.locks.query()).pending.length === 2 ? true : undefined),
      "both waiters",
    );
    const lost = holder!.event(h.id, "lost");
    for (const c of [holder!, a!, b!]) {
      for (const pid of (await c.run({ op: "sessions" })).pids as number[]) await terminate(pid);
    }
    expect((await lost).reason).toBe("connection-ended");
    await serverFree("deploy");
    expect(await backend.locks.query()).toEqual({ held: [], pending: [] });
    // Its callback is still running, without the lock: its request rejects once it ends.
    await holder!.run({ op: "release", key: h.id });
    await expect(holder!.event(h.id, "done")).rejects.toMatchObject({ code: "ELOCKLOST" });
  });

  it("query() names a hold whose holder is too busy to write its record (an event loop blocked in the callback)", async () => {
    const [holder] = await start(1);
    const id = holder!.send({
      op: "holdBlocked",
      name: "busy",
      ms: 4_000,
      options: {
        holder: { purpose: "never recorded" },
      },
    });
    await holder!.event(id, "granted");
    const snap = await until(async () => {
      const s = await backend.locks.query();
      return s.held.length === 1 ? s : undefined;
    }, "the busy holder");
    expect(snap.held[0]).toMatchObject({
      name: "busy",
      mode: "exclusive",
      pid: holder!.pid,
      clientId: holder!.clientId,
    });
    // Its record (and so its holder fields) is written by a timer that cannot run.
    expect(snap.held[0]!.holder).toBeUndefined();
    await holder!.event(id, "done");
  });

  it("shared holders of one name in different processes overlap; an exclusive request waits for all", async () => {
    const [p1, p2, p3] = await start(3);
    const s1 = await p1!.hold("index", { mode: "shared" });
    const s2 = await p2!.hold("index", { mode: "shared" });
    await Promise.all([s1.granted, s2.granted]);
    const snap = await backend.locks.query();
    expect(snap.held.map((e) => [e.pid, e.mode]).sort()).toEqual(
      [
        [p1!.pid, "shared"],
        [p2!.pid, "shared"],
      ].sort(),
    );
    const x = await p3!.hold("index");
    let granted = false;
    void x.granted.then(() => {
      granted = true;
    });
    await until(
      async () => ((await backend.locks.query()).pending.length === 1 ? true : undefined),
      "the exclusive waiter",
    );
    await s1.release();
    await until(
      async () => ((await backend.locks.query()).held.length === 1 ? true : undefined),
      "the first shared holder gone",
    );
    const during = await backend.locks.query();
    expect(during.held.map((e) => [e.pid, e.mode])).toEqual([[p2!.pid, "shared"]]);
    expect(during.pending.map((e) => [e.pid, e.mode])).toEqual([[p3!.pid, "exclusive"]]);
    expect(granted).toBe(false);
    await s2.release();
    const { token } = await x.granted;
    expect(token).toBeGreaterThan((await s2.granted).token);
    await x.release();
  });

  it("steal against another process's holder rejects with LockStealError naming it, and revokes nothing", async () => {
    const [holder] = await start(1);
    const h = await holder!.hold("deploy", { holder: { purpose: "deploy v2" } });
    await h.granted;
    await recorded("deploy");
    const err = await backend.locks
      .request("deploy", { steal: true }, () => "stolen")
      .catch((e) => e);
    expect(err).toBeInstanceOf(LockStealError);
    expect(err).toMatchObject({ code: "ELOCKSTEAL", lockName: "deploy" });
    expect(err.holders).toEqual([expect.objectContaining({ pid: holder!.pid, mode: "exclusive" })]);
    expect(err.message).toContain(`pid ${holder!.pid} (deploy v2)`);
    expect((await backend.locks.query()).held.map((e) => e.pid)).toEqual([holder!.pid]);
    await h.release();
  });

  it("a timeout names the other process's holder; ifAvailable is null until it releases", async () => {
    const [holder] = await start(1);
    const h = await holder!.hold("deploy", { holder: { purpose: "deploy v2" } });
    await h.granted;
    await recorded("deploy");
    const err = await backend.locks.request("deploy", { timeoutMs: 100 }, () => {}).catch((e) => e);
    expect(err).toMatchObject({ code: "ELOCKTIMEOUT" });
    expect(err.message).toContain(`pid ${holder!.pid} on `);
    expect(err.message).toContain("(deploy v2)");
    expect(await backend.locks.request("deploy", { ifAvailable: true }, (l) => l)).toBeNull();
    await h.release();
    expect(await backend.locks.request("deploy", { ifAvailable: true }, (l) => l?.name)).toBe(
      "deploy",
    );
  });

  it("tokens of one name rise across processes, whoever is granted", async () => {
    const children = await start(2);
    const tokens: number[] = [];
    for (let i = 0; i < 6; i++) {
      const c = children[i % 2]!;
      const { lock } = await c.run({ op: "try", name: "t", options: {} });
      tokens.push(lock.token);
      tokens.push(await backend.locks.request("t", (l) => l.token));
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
  });
});
