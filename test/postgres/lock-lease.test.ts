// The lease: a holder that keeps running keeps its lock through heartbeats, however long
// it holds; a holder whose event loop stops for longer than the lease finds out
// synchronously (assertHeld) the moment it runs again, and the server has let go.
// Time passing is the scenario here, so these tests wait for it.
import { describe, expect, it } from "vitest";
import { LockLostError } from "../../src/postgres/index.js";
import { locksOf, useBackends } from "./helpers.js";

const connect = useBackends();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("lease", () => {
  it("heartbeats keep a running holder's lock for many leases", async () => {
    const leaseMs = 400;
    const holder = await connect({ leaseMs });
    const other = await connect({ leaseMs });
    const lock = await holder.acquireLock("long");
    await sleep(leaseMs * 5);
    expect(lock.signal.aborted).toBe(false);
    lock.assertHeld();
    expect(await other.tryAcquireLock("long")).toBeUndefined();
    expect(await locksOf(holder.namespace, "long")).toHaveLength(1);
    await lock.release();
  });

  it("a blocked event loop past the lease: assertHeld throws lease-expired at once, the server freed the lock", async () => {
    const leaseMs = 400;
    const holder = await connect({ leaseMs });
    const other = await connect({ leaseMs });
    const lock = await holder.acquireLock("frozen");
    const until = performance.now() + leaseMs * 2;
    while (performance.now() < until) {
      // A synchronous stall, like a long GC pause or a CPU-bound loop.
    }
    let thrown: unknown;
    try {
      lock.assertHeld();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(LockLostError);
    expect((thrown as LockLostError).reason).toBe("lease-expired");
    expect(lock.signal.reason).toBe(thrown);
    const next = await other.acquireLock("frozen", { timeoutMs: 10_000 });
    expect(next.token).toBeGreaterThan(lock.token);
    await expect(lock.release()).rejects.toBe(thrown);
    await next.release();
  });
});
