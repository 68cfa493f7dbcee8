import { describe, expect, it } from "vitest";
import { AbortError, InterlockError, LockTimeoutError } from "../../src/errors.js";
import { LockLostError } from "../../src/postgres/index.js";
import { drain, track } from "../helpers/settle.js";
import { locksOf, recordedHolder, until, useBackends } from "./helpers.js";

const connect = useBackends();

describe("acquireLock", () => {
  it("grants, records the holder, and releases; tokens rise with every grant", async () => {
    const b = await connect();
    const first = await b.acquireLock("deploy", { holder: { purpose: "deploy" } });
    expect(first.name).toBe("deploy");
    expect(first.mode).toBe("exclusive");
    expect(first.held).toBe(true);
    expect(first.signal.aborted).toBe(false);
    first.assertHeld();
    // Right away: who (the session's record); after a few tens of ms, the grant too.
    expect(await b.readLockHolder("deploy")).toMatchObject({ pid: process.pid, mode: "exclusive" });
    const holder = await recordedHolder(b, "deploy");
    expect(holder).toMatchObject({
      name: "deploy",
      mode: "exclusive",
      token: first.token,
      pid: process.pid,
      purpose: "deploy",
    });
    await first.release();
    expect(first.held).toBe(false);
    expect(first.signal.aborted).toBe(true);
    expect(() => first.assertHeld()).toThrow(expect.objectContaining({ code: "ELOCKRELEASED" }));
    expect(await b.readLockHolder("deploy")).toBeUndefined();
    expect(await locksOf(b.namespace, "deploy")).toEqual([]);
    const second = await b.acquireLock("deploy");
    expect(second.token).toBeGreaterThan(first.token);
    await second.release();
    await second.release(); // idempotent
  });

  it("excludes an exclusive holder of another client until release, then hands over in order", async () => {
    const a = await connect();
    const c = await connect();
    const held = await a.acquireLock("x");
    const order: string[] = [];
    const waiter = track(
      c.acquireLock("x").then((l) => {
        order.push("c granted");
        return l;
      }),
    );
    await until(
      async () => ((await locksOf(a.namespace, "x")).some((r) => !r.granted) ? true : undefined),
      "c to queue",
    );
    expect(waiter.state).toBe("pending");
    order.push("a released");
    await held.release();
    const next = await waiter.promise;
    expect(order).toEqual(["a released", "c granted"]);
    expect(next.token).toBeGreaterThan(held.token);
    await next.release();
  });

  it("a second exclusive request of the same process is granted only after the first is released", async () => {
    const b = await connect();
    const first = await b.acquireLock("solo");
    const order: string[] = [];
    const second = b.acquireLock("solo").then((lock) => {
      order.push("second granted");
      return lock;
    });
    await drain();
    // Were the second request to ride the first one's session (advisory locks are
    // re-entrant per session), its grant would come back before this unlock does.
    await first.release();
    order.push("first released");
    const lock = await second;
    expect(order).toEqual(["first released", "second granted"]);
    expect(lock.token).toBeGreaterThan(first.token);
    await lock.release();
  });

  it("requests of one process never both hold, even across a server round trip inside the hold", async () => {
    const b = await connect();
    let inside = 0;
    let overlaps = 0;
    let count = 0;
    const wrongHolder: string[] = [];
    await Promise.all(
      Array.from({ length: 3 }, () =>
        (async () => {
          for (let i = 0; i < 8; i++) {
            await b.withLock("counter", async (lock) => {
              inside++;
              if (inside > 1) overlaps++;
              const seen = count;
              // A server round trip inside the hold: long enough for a second holder on
              // the same session (re-entrancy) to be granted meanwhile.
              const holder = await b.readLockHolder("counter");
              if (holder?.pid !== process.pid || !lock.held) wrongHolder.push(String(lock.token));
              count = seen + 1;
              inside--;
            });
          }
        })(),
      ),
    );
    expect(overlaps).toBe(0);
    expect(wrongHolder).toEqual([]);
    expect(count).toBe(24);
  });

  it("shared holders coexist, in this process and across clients; exclusive waits for all", async () => {
    const a = await connect();
    const c = await connect();
    const d = await connect();
    const r1 = await a.acquireLock("doc", { mode: "shared" });
    const r2 = await a.acquireLock("doc", { mode: "shared" });
    const r3 = await c.acquireLock("doc", { mode: "shared" });
    expect(new Set([r1.token, r2.token, r3.token]).size).toBe(3);
    expect(await a.tryAcquireLock("doc")).toBeUndefined();
    const w = track(d.acquireLock("doc"));
    await until(
      async () => ((await locksOf(a.namespace, "doc")).some((r) => !r.granted) ? true : undefined),
      "writer to queue",
    );
    // A new local reader must not join our existing shared hold past the queued writer.
    const late = track(a.acquireLock("doc", { mode: "shared" }));
    await r1.release();
    await r2.release();
    await drain();
    expect(w.state).toBe("pending");
    expect(late.state).toBe("pending");
    await r3.release();
    const writer = await w.promise;
    await drain();
    expect(late.state).toBe("pending");
    await writer.release();
    const reader = await late.promise;
    expect(reader.token).toBeGreaterThan(writer.token);
    await reader.release();
  });

  it("tryAcquireLock takes a free lock and answers undefined for a held one, without queueing", async () => {
    const a = await connect();
    const c = await connect();
    const held = await a.tryAcquireLock("cron");
    expect(held).toBeDefined();
    expect(await c.tryAcquireLock("cron")).toBeUndefined();
    expect(await a.tryAcquireLock("cron")).toBeUndefined();
    expect((await locksOf(a.namespace, "cron")).filter((r) => !r.granted)).toEqual([]);
    await held!.release();
    const again = await c.tryAcquireLock("cron", { mode: "shared" });
    expect(again?.mode).toBe("shared");
    await again!.release();
  });

  it("timeoutMs rejects with LockTimeoutError naming the holder, and leaves no waiter on the server", async () => {
    const a = await connect();
    const c = await connect();
    const held = await a.acquireLock("slow", { holder: { purpose: "backup" } });
    const err = await c.acquireLock("slow", { timeoutMs: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(err.message).toMatch(/"slow".*backup/);
    expect(await locksOf(a.namespace, "slow")).toHaveLength(1);
    // timeoutMs 0: only if free right now.
    await expect(c.acquireLock("slow", { timeoutMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    await held.release();
    const next = await c.acquireLock("slow", { timeoutMs: 5_000 });
    await next.release();
  });

  it("an abort while queued on the server rejects with AbortError and leaves no waiter", async () => {
    const a = await connect();
    const c = await connect();
    const held = await a.acquireLock("q");
    const ac = new AbortController();
    const waiting = c.acquireLock("q", { signal: ac.signal });
    await until(
      async () => ((await locksOf(a.namespace, "q")).some((r) => !r.granted) ? true : undefined),
      "queue",
    );
    const reason = new Error("user gave up");
    ac.abort(reason);
    const err = await waiting.catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.cause).toBe(reason);
    expect((await locksOf(a.namespace, "q")).filter((r) => !r.granted)).toEqual([]);
    await held.release();
    await expect(c.acquireLock("q", { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(
      AbortError,
    );
    const next = await c.acquireLock("q");
    await next.release();
  });

  it("close() ends held locks with LockLostError (closed) and later calls fail", async () => {
    const b = await connect();
    const lock = await b.acquireLock("k");
    await b.close();
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(lock.signal.reason.reason).toBe("closed");
    await expect(lock.release()).rejects.toBeInstanceOf(LockLostError);
    await expect(b.acquireLock("k")).rejects.toMatchObject({ code: "EPGCLOSED" });
    expect(await locksOf(b.namespace, "k")).toEqual([]);
  });

  it("rejects bad arguments synchronously", async () => {
    const b = await connect();
    expect(() => b.acquireLock("")).toThrow(TypeError);
    expect(() => b.acquireLock("x", { mode: "read" as never })).toThrow(/"exclusive" or "shared"/);
    expect(() => b.acquireLock("x", { timeoutMs: -1 })).toThrow(RangeError);
    expect(() => b.acquireLock("x", { holder: { pid: 1 } })).toThrow(/written by interlock/);
    expect(() => b.acquireLock("x", { holder: [] as never })).toThrow(TypeError);
    expect(new InterlockError("X", "y")).toBeInstanceOf(Error);
  });
});
