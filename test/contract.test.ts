// One contract, run against every exclusive lock interlock offers (async-mutex's habit):
// exclusion, FIFO, abort, timeout, double release, dispose.
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type AcquireOptions,
  KeyedMutex,
  KeyedRWLock,
  LockTimeoutError,
  Mutex,
  type Releaser,
  RWLock,
  Semaphore,
} from "../src/index.js";
import { drain, track } from "./helpers/settle.js";

interface ExclusiveLock {
  acquire(options?: AcquireOptions): Promise<Releaser>;
  tryAcquire(): Releaser | undefined;
  isLocked(): boolean;
  waiting(): number;
}

const factories: Record<string, () => ExclusiveLock> = {
  Mutex: () => {
    const m = new Mutex();
    return {
      acquire: (o) => m.acquire(o),
      tryAcquire: () => m.tryAcquire(),
      isLocked: () => m.isLocked,
      waiting: () => m.waiting,
    };
  },
  "Semaphore(1)": () => {
    const s = new Semaphore(1);
    return {
      acquire: (o) => s.acquire(o),
      tryAcquire: () => s.tryAcquire(),
      isLocked: () => s.available === 0,
      waiting: () => s.waiting,
    };
  },
  "Semaphore(3) weight 3": () => {
    const s = new Semaphore(3);
    return {
      acquire: (o) => s.acquire({ ...o, weight: 3 }),
      tryAcquire: () => s.tryAcquire(3),
      isLocked: () => s.available < 3,
      waiting: () => s.waiting,
    };
  },
  "KeyedMutex key": () => {
    const k = new KeyedMutex<string>();
    return {
      acquire: (o) => k.acquire("key", o),
      tryAcquire: () => k.tryAcquire("key"),
      isLocked: () => k.isLocked("key"),
      waiting: () => k.waiting("key"),
    };
  },
  "KeyedMutex acquireMany": () => {
    const k = new KeyedMutex<string>();
    return {
      acquire: (o) => k.acquireMany(["b", "a", "b"], o),
      tryAcquire: () => k.tryAcquire("a"),
      isLocked: () => k.isLocked("a"),
      waiting: () => k.waiting("a"),
    };
  },
  "RWLock write": () => {
    const l = new RWLock();
    return {
      acquire: (o) => l.writeLock(o),
      tryAcquire: () => l.tryWriteLock(),
      isLocked: () => l.isWriteLocked,
      waiting: () => l.waiting,
    };
  },
  "KeyedRWLock write": () => {
    const l = new KeyedRWLock<string>();
    return {
      acquire: (o) => l.writeLock("k", o),
      tryAcquire: () => l.tryWriteLock("k"),
      isLocked: () => l.isWriteLocked("k"),
      waiting: () => l.waiting("k"),
    };
  },
};

afterEach(() => {
  vi.useRealTimers();
});

describe.each(Object.entries(factories))("contract: %s", (_name, make) => {
  it("excludes: a second acquire waits until the first releases", async () => {
    const lock = make();
    const first = await lock.acquire();
    const second = track(lock.acquire());
    await drain();
    expect(second.state).toBe("pending");
    expect(lock.isLocked()).toBe(true);
    first.release();
    await drain();
    expect(second.state).toBe("fulfilled");
    second.value!.release();
    expect(lock.isLocked()).toBe(false);
  });

  it("grants in arrival order", async () => {
    const lock = make();
    const first = await lock.acquire();
    const order: number[] = [];
    const waiters = Array.from({ length: 8 }, (_, i) =>
      lock.acquire().then((h) => {
        order.push(i);
        h.release();
      }),
    );
    first.release();
    await Promise.all(waiters);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("tryAcquire never barges past a queued waiter", async () => {
    const lock = make();
    const first = await lock.acquire();
    const queued = track(lock.acquire());
    expect(lock.tryAcquire()).toBeUndefined();
    first.release();
    // The lock went straight to the queued waiter: there is no gap to slip into.
    expect(lock.tryAcquire()).toBeUndefined();
    await drain();
    expect(queued.state).toBe("fulfilled");
    queued.value!.release();
    const h = lock.tryAcquire();
    expect(h).toBeDefined();
    h!.release();
  });

  it("an aborted waiter is unlinked at once, rejected with cause = reason, and never granted", async () => {
    const lock = make();
    const holder = await lock.acquire();
    const ac = new AbortController();
    const aborted = track(lock.acquire({ signal: ac.signal }));
    const next = track(lock.acquire());
    await drain();
    const reason = new Error("stop");
    ac.abort(reason);
    expect(lock.waiting()).toBe(1);
    await drain();
    expect(aborted.state).toBe("rejected");
    expect((aborted.error as Error).name).toBe("AbortError");
    expect((aborted.error as any).code).toBe("ABORT_ERR");
    expect((aborted.error as Error).cause).toBe(reason);
    holder.release();
    await drain();
    expect(next.state).toBe("fulfilled");
    next.value!.release();
    expect(lock.isLocked()).toBe(false);
  });

  it("an already-aborted signal rejects without taking the lock", async () => {
    const lock = make();
    const reason = { why: "already" };
    await expect(lock.acquire({ signal: AbortSignal.abort(reason) })).rejects.toMatchObject({
      name: "AbortError",
      cause: reason,
    });
    expect(lock.isLocked()).toBe(false);
  });

  it("a timed-out waiter rejects with ELOCKTIMEOUT, is never granted, and the next proceeds", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const lock = make();
    const holder = await lock.acquire();
    const timed = track(lock.acquire({ timeoutMs: 100 }));
    const next = track(lock.acquire());
    await vi.advanceTimersByTimeAsync(99);
    expect(timed.state).toBe("pending");
    await vi.advanceTimersByTimeAsync(1);
    expect(timed.state).toBe("rejected");
    expect(timed.error).toBeInstanceOf(LockTimeoutError);
    expect((timed.error as LockTimeoutError).code).toBe("ELOCKTIMEOUT");
    expect(lock.waiting()).toBe(1);
    holder.release();
    await drain();
    expect(next.state).toBe("fulfilled");
    next.value!.release();
    expect(lock.isLocked()).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("timeoutMs 0 fails at once when held and succeeds when free", async () => {
    const lock = make();
    const h = await lock.acquire({ timeoutMs: 0 });
    await expect(lock.acquire({ timeoutMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    h.release();
    (await lock.acquire({ timeoutMs: 0 })).release();
    expect(lock.isLocked()).toBe(false);
  });

  it("a granted waiter clears its timer and listener: a later abort or timeout changes nothing", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const lock = make();
    const holder = await lock.acquire();
    const ac = new AbortController();
    const waiter = track(lock.acquire({ signal: ac.signal, timeoutMs: 50 }));
    holder.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(waiter.state).toBe("fulfilled");
    ac.abort();
    await vi.advanceTimersByTimeAsync(100);
    expect(lock.isLocked()).toBe(true);
    waiter.value!.release();
    expect(lock.isLocked()).toBe(false);
  });

  it("releasing twice is a no-op and never frees the next holder", async () => {
    const lock = make();
    const a = await lock.acquire();
    const b = track(lock.acquire());
    const c = track(lock.acquire());
    a.release();
    await drain();
    expect(b.state).toBe("fulfilled");
    a.release();
    a[Symbol.dispose]();
    await drain();
    expect(c.state).toBe("pending");
    expect(lock.isLocked()).toBe(true);
    b.value!.release();
    await drain();
    expect(c.state).toBe("fulfilled");
    c.value!.release();
  });

  it("`using` releases at the end of the block, also when it throws", async () => {
    const lock = make();
    {
      using _held = await lock.acquire();
      expect(lock.isLocked()).toBe(true);
    }
    expect(lock.isLocked()).toBe(false);
    await expect(
      (async () => {
        using _held = await lock.acquire();
        throw new Error("boom");
      })(),
    ).rejects.toThrow("boom");
    expect(lock.isLocked()).toBe(false);
  });

  it("rejects a bad timeout synchronously", () => {
    const lock = make();
    expect(() => lock.acquire({ timeoutMs: -1 })).toThrow(RangeError);
    expect(() => lock.acquire({ timeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => lock.acquire({ signal: {} as AbortSignal })).toThrow(TypeError);
    expect(lock.isLocked()).toBe(false);
  });
});
