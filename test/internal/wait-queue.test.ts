// The core, tested directly: weighted hand-off, partial assignment, cancellation that
// passes on what the waiter was given, and the idle hook keyed pools rely on.
import { describe, expect, it, vi } from "vitest";
import { AbortError, LockTimeoutError } from "../../src/errors.js";
import { KeyedPool } from "../../src/internal/keyed-pool.js";
import { type Permit, permitFactory } from "../../src/internal/permit.js";
import { WaitQueue } from "../../src/internal/wait-queue.js";
import { drain, track } from "../helpers/settle.js";

const queue = (capacity: number) => new WaitQueue<Permit>(capacity, permitFactory);

describe("WaitQueue", () => {
  it("grants at once while permits last and nobody waits", async () => {
    const q = queue(3);
    const a = await q.acquire(2, undefined);
    expect(q.available).toBe(1);
    expect(q.tryAcquire(1)).toBeDefined();
    expect(q.available).toBe(0);
    expect(q.tryAcquire(1)).toBeUndefined();
    a.release();
    expect(q.available).toBe(2);
  });

  it("assigns freed permits to the head even before it can be satisfied", async () => {
    const q = queue(5);
    const held = await q.acquire(3, undefined); // 2 free
    const big = track(q.acquire(4, undefined)); // takes the 2 free ones, needs 2 more
    expect(q.available).toBe(0);
    expect(q.outstanding).toBe(3);
    const small = track(q.acquire(1, undefined)); // must not overtake `big`
    held.release();
    await drain();
    // 3 freed: 2 complete `big`, 1 goes on to `small`.
    expect(big.state).toBe("fulfilled");
    expect(small.state).toBe("fulfilled");
    expect(q.available).toBe(0);
    expect(q.outstanding).toBe(5);
  });

  it("a large head is not overtaken by later small waiters while it accumulates", async () => {
    const q = queue(4);
    const ones = await Promise.all([1, 2, 3, 4].map(() => q.acquire(1, undefined)));
    const big = track(q.acquire(4, undefined));
    const small = track(q.acquire(1, undefined));
    ones[0]!.release();
    ones[1]!.release();
    ones[2]!.release();
    await drain();
    expect(big.state).toBe("pending");
    expect(small.state).toBe("pending");
    expect(q.available).toBe(0);
    ones[3]!.release();
    await drain();
    expect(big.state).toBe("fulfilled");
    expect(small.state).toBe("pending");
    big.value!.release();
    await drain();
    expect(small.state).toBe("fulfilled");
  });

  it("cancelling a partially served head gives its permits to the waiters behind it", async () => {
    const q = queue(10);
    const held = await q.acquire(6, undefined); // 4 free
    const ac = new AbortController();
    const big = track(q.acquire(8, { signal: ac.signal })); // holds 4, needs 4
    const small = track(q.acquire(2, undefined));
    expect(q.length).toBe(2);
    ac.abort("cancelled");
    expect(q.length).toBe(0); // `small` was granted from what `big` gave back
    await drain();
    expect(big.state).toBe("rejected");
    expect(big.error).toBeInstanceOf(AbortError);
    expect(small.state).toBe("fulfilled");
    expect(q.available).toBe(2);
    held.release();
    small.value!.release();
    expect(q.available).toBe(10);
  });

  it("cancelling a waiter in the middle keeps the others' order", async () => {
    const q = queue(1);
    const held = await q.acquire(1, undefined);
    const acs = [0, 1, 2, 3].map(() => new AbortController());
    const order: number[] = [];
    const ps = acs.map((ac, i) =>
      q.acquire(1, { signal: ac.signal }).then(
        (h) => {
          order.push(i);
          h.release();
        },
        () => order.push(-i),
      ),
    );
    acs[1]!.abort();
    acs[2]!.abort();
    held.release();
    await Promise.all(ps);
    expect(order).toEqual([-1, -2, 0, 3]);
  });

  it("a timeout and an abort on one waiter settle it once, with whichever came first", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const q = queue(1);
      const held = await q.acquire(1, undefined);
      const ac = new AbortController();
      const w = track(q.acquire(1, { signal: ac.signal, timeoutMs: 10 }));
      await vi.advanceTimersByTimeAsync(10);
      ac.abort();
      await drain();
      expect(w.error).toBeInstanceOf(LockTimeoutError);
      expect((w.error as LockTimeoutError).timeoutMs).toBe(10);
      held.release();
      expect(q.available).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a timeout beyond what setTimeout can hold means no timeout", async () => {
    const q = queue(1);
    const held = await q.acquire(1, undefined);
    const w = track(q.acquire(1, { timeoutMs: 2 ** 31 }));
    await drain();
    expect(w.state).toBe("pending");
    held.release();
    await drain();
    expect(w.state).toBe("fulfilled");
  });

  it("tells its pool when it falls idle, including after a waiter gives up", async () => {
    const pool = new KeyedPool<string, Permit>(1, permitFactory);
    const h = await pool.get("a").acquire(1, undefined);
    const ac = new AbortController();
    const w = track(pool.get("a").acquire(1, { signal: ac.signal }));
    expect(pool.queues.size).toBe(1);
    ac.abort();
    h.release();
    await drain();
    expect(w.state).toBe("rejected");
    expect(pool.queues.size).toBe(0);
    // A queue created only to reject at once does not linger either.
    await expect(pool.get("b").acquire(1, { signal: AbortSignal.abort() })).rejects.toThrow();
    expect(pool.queues.size).toBe(0);
  });
});

describe("WaitQueue and shared signals", () => {
  it("one signal shared by many waiters adds one listener and cancels them all", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    try {
      const q = queue(1);
      const held = await q.acquire(1, undefined);
      const ac = new AbortController();
      const ws = Array.from({ length: 50 }, () => track(q.acquire(1, { signal: ac.signal })));
      expect(q.length).toBe(50);
      ac.abort("shutdown");
      expect(q.length).toBe(0);
      await drain();
      expect(
        ws.every((w) => w.state === "rejected" && (w.error as Error).cause === "shutdown"),
      ).toBe(true);
      held.release();
      expect(q.available).toBe(1);
      expect(warnings).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("a waiter whose signal already fired is never granted, even by a release from an earlier abort listener", async () => {
    const q = queue(1);
    const ac = new AbortController();
    const held = await q.acquire(1, undefined);
    // Registered before the waiter's own listener, so it runs first and releases.
    ac.signal.addEventListener("abort", () => held.release());
    const w = track(q.acquire(1, { signal: ac.signal }));
    const next = track(q.acquire(1, undefined));
    ac.abort("stop");
    await drain();
    expect(w.state).toBe("rejected");
    expect(next.state).toBe("fulfilled"); // what `w` would have taken went on to `next`
    next.value!.release();
    expect(q.available).toBe(1);
  });

  it("a granted waiter stops listening to its signal", async () => {
    const q = queue(1);
    const ac = new AbortController();
    const held = await q.acquire(1, undefined);
    const w = track(q.acquire(1, { signal: ac.signal }));
    held.release();
    await drain();
    expect(w.state).toBe("fulfilled");
    ac.abort();
    expect(q.available).toBe(0); // the abort did not touch the granted holder
    w.value!.release();
    expect(q.available).toBe(1);
  });
});
