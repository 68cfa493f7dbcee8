// LockManager across real processes: exclusion (N processes × M increments), shared
// holders overlapping, query() from another process seeing holders and waiters and
// nothing once they are SIGKILLed, steal refused against another process's holder.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { LockManager, LockStealError } from "../../src/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { LocksClient, until } from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const newTempDir = useTempDir();
let dir: string;
let locks: LockManager;

beforeEach(() => {
  dir = newTempDir();
  locks = new LockManager({ dir });
});

const start = (n: number) => Promise.all(Array.from({ length: n }, () => LocksClient.process(dir)));

describe("LockManager across processes", () => {
  const processes = stress ? 8 : 4;
  const each = stress ? 200 : 25;

  it(
    `${processes} processes × ${each} increments through request() lose none (the unlocked control loses some)`,
    async () => {
      const children = await start(processes);
      const counter = join(newTempDir(), "counter");
      writeFileSync(counter, "0");
      await Promise.all(
        children.map((c) =>
          c.run({ op: "increment", name: "counter", counter, count: each, locked: true }),
        ),
      );
      expect(Number(readFileSync(counter, "utf8"))).toBe(processes * each);

      // Negative control (reported, not asserted: it depends on timing).
      writeFileSync(counter, "0");
      await Promise.all(
        children.map((c) =>
          c.run({ op: "increment", name: "counter", counter, count: each, locked: false }),
        ),
      );
      const unlocked = Number(readFileSync(counter, "utf8"));
      console.log(
        `negative control, no lock: ${processes * each - unlocked} of ${processes * each} increments lost`,
      );
    },
    stress ? 300_000 : 60_000,
  );

  it("query() from a third process sees the holder and every waiter, then nothing after SIGKILL of all", async () => {
    const [holder, waiterA, waiterB] = await start(3);
    const h = await holder!.hold("deploy", { holder: { purpose: "deploy v2" } });
    await h.granted;
    const a = await waiterA!.hold("deploy");
    const b = await waiterB!.hold("deploy", { mode: "shared", holder: { purpose: "read" } });
    const snap = await locks.query();
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
      [waiterA!.pid, "exclusive", waiterA!.clientId],
      [waiterB!.pid, "shared", waiterB!.clientId],
    ]);
    expect(snap.pending[1]!.holder).toEqual({ purpose: "read" });
    // The same from one of the waiters' point of view (it sees itself from memory).
    const fromA = (await waiterA!.run({ op: "query" })).snapshot;
    expect(fromA).toEqual(snap);

    await Promise.all([holder!.kill(), waiterA!.kill(), waiterB!.kill()]);
    expect(await locks.query()).toEqual({ held: [], pending: [] });
    // The dead waiters' entries were removed on the way.
    expect(readdirSync(join(dir, ".registry"))).toEqual([]);
    void a;
    void b;
  });

  it("query() from another process reports escaped and very long (hashed) names exactly", async () => {
    const [child] = await start(1);
    const names = ["a/b", "Deploy ✓", "\uD800", "x".repeat(300) + "/é"];
    const holds = [];
    for (const name of names) {
      const h = await child!.hold(name);
      await h.granted;
      holds.push(h);
    }
    const { held } = await locks.query();
    expect(held.map((e) => e.name).sort()).toEqual([...names].sort());
    expect(new Set(held.map((e) => e.clientId))).toEqual(new Set([child!.clientId]));
    for (const h of holds) await h.release();
  });

  it("shared holders of one name in different processes overlap; an exclusive request waits for all", async () => {
    const [p1, p2, p3] = await start(3);
    const s1 = await p1!.hold("index", { mode: "shared" });
    const s2 = await p2!.hold("index", { mode: "shared" });
    // Both granted while the other holds: they overlap.
    await Promise.all([s1.granted, s2.granted]);
    const snap = await locks.query();
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
    await s1.release();
    // The exclusive waiter is still waiting while the second shared holder holds.
    const during = await locks.query();
    expect(during.held.map((e) => [e.pid, e.mode])).toEqual([[p2!.pid, "shared"]]);
    expect(during.pending.map((e) => [e.pid, e.mode])).toEqual([[p3!.pid, "exclusive"]]);
    expect(granted).toBe(false);
    await s2.release();
    await x.granted;
    await x.release();
  });

  it("steal against another process's holder rejects with LockStealError naming it, and revokes nothing", async () => {
    const [holder] = await start(1);
    const h = await holder!.hold("deploy", { holder: { purpose: "deploy v2" } });
    await h.granted;
    const err = await locks.request("deploy", { steal: true }, () => "stolen").catch((e) => e);
    expect(err).toBeInstanceOf(LockStealError);
    expect(err).toMatchObject({ code: "ELOCKSTEAL", lockName: "deploy" });
    expect(err.holders).toEqual([expect.objectContaining({ pid: holder!.pid, mode: "exclusive" })]);
    expect(err.message).toContain(`pid ${holder!.pid} (deploy v2)`);
    // Still held by the child.
    expect((await locks.query()).held.map((e) => e.pid)).toEqual([holder!.pid]);
    await h.release();
  });

  it("steal of this process's shared holders is refused while another process also holds it shared", async () => {
    const [other] = await start(1);
    const theirs = await other!.hold("index", { mode: "shared" });
    await theirs.granted;
    let revoked = false;
    const ours = locks
      .request("index", { mode: "shared" }, () => new Promise(() => {}))
      .catch(() => {
        revoked = true;
      });
    await until(async () => (await locks.query()).held.length === 2, "both shared holders");
    const err = await locks.request("index", { steal: true }, () => "stolen").catch((e) => e);
    expect(err).toBeInstanceOf(LockStealError);
    expect(err.holders.map((h: { pid: number }) => h.pid)).toEqual([other!.pid]);
    expect(revoked).toBe(false);
    void ours;
    await theirs.release();
  });

  it("a timeout names the other process's holder", async () => {
    const [holder] = await start(1);
    const h = await holder!.hold("deploy", { holder: { purpose: "deploy v2" } });
    await h.granted;
    const err = await locks.request("deploy", { timeoutMs: 50 }, () => {}).catch((e) => e);
    expect(err).toMatchObject({ code: "ELOCKTIMEOUT" });
    expect(err.message).toContain(`pid ${holder!.pid} (deploy v2)`);
    await h.release();
  });

  it("ifAvailable is null while another process holds the lock, granted once it is released", async () => {
    const [holder] = await start(1);
    const h = await holder!.hold("job");
    await h.granted;
    expect(await locks.request("job", { ifAvailable: true }, (l) => l)).toBeNull();
    await h.release();
    expect(await locks.request("job", { ifAvailable: true }, (l) => l?.name)).toBe("job");
  });
});
