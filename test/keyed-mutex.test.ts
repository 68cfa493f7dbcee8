import { describe, expect, it, vi } from "vitest";
import { KeyedMutex, LockTimeoutError } from "../src/index.js";
import { canonicalKeys, compareKeys } from "../src/internal/keyed-pool.js";
import { drain, track } from "./helpers/settle.js";

describe("KeyedMutex", () => {
  it("excludes per key and leaves other keys free", async () => {
    const km = new KeyedMutex<string>();
    const a = await km.acquire("a");
    const a2 = track(km.acquire("a"));
    const b = await km.acquire("b");
    await drain();
    expect(a2.state).toBe("pending");
    expect(km.isLocked("a")).toBe(true);
    expect(km.isLocked("b")).toBe(true);
    expect(km.isLocked("c")).toBe(false);
    expect(km.waiting("a")).toBe(1);
    b.release();
    a.release();
    await drain();
    expect(a2.state).toBe("fulfilled");
    a2.value!.release();
  });

  it("forgets idle keys: size returns to 0 after release, abort, timeout and failed tries", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const km = new KeyedMutex<number>();
      const held = await Promise.all([1, 2, 3].map((k) => km.acquire(k)));
      expect(km.size).toBe(3);
      const ac = new AbortController();
      const aborted = km.acquire(1, { signal: ac.signal }).catch((e) => e);
      const timed = km.acquire(2, { timeoutMs: 5 }).catch((e) => e);
      expect(km.tryAcquire(3)).toBeUndefined();
      await expect(km.acquire(4, { signal: AbortSignal.abort() })).rejects.toThrow();
      await expect(km.acquire(3, { timeoutMs: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
      ac.abort();
      await vi.advanceTimersByTimeAsync(5);
      expect(await timed).toBeInstanceOf(LockTimeoutError);
      expect((await aborted).name).toBe("AbortError");
      for (const h of held) h.release();
      expect(km.size).toBe(0);
      await km.runExclusive(9, () => expect(km.size).toBe(1));
      expect(km.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("acquireMany takes keys in one canonical order, collapsing duplicates", async () => {
    const km = new KeyedMutex<string>();
    const all = await km.acquireMany(["c", "a", "b", "a"]);
    expect(["a", "b", "c"].map((k) => km.isLocked(k))).toEqual([true, true, true]);
    expect(km.size).toBe(3);
    all.release();
    all.release();
    expect(km.size).toBe(0);
  });

  it("acquireMany in opposite orders does not deadlock", async () => {
    const km = new KeyedMutex<string>();
    const log: string[] = [];
    const run = (keys: string[], tag: string) =>
      km.acquireMany(keys).then(async (h) => {
        log.push(`${tag}+`);
        await drain();
        log.push(`${tag}-`);
        h.release();
      });
    await Promise.all([
      run(["a", "b"], "1"),
      run(["b", "a"], "2"),
      run(["b", "c", "a"], "3"),
      run(["c", "a"], "4"),
    ]);
    // Each critical section is entered and left before the next starts.
    expect(log).toEqual(["1+", "1-", "2+", "2-", "3+", "3-", "4+", "4-"]);
    expect(km.size).toBe(0);
  });

  it("acquireMany that times out releases the keys it already took", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const km = new KeyedMutex<string>();
      const b = await km.acquire("b");
      const many = track(km.acquireMany(["a", "b"], { timeoutMs: 20 }));
      await vi.advanceTimersByTimeAsync(0);
      expect(km.isLocked("a")).toBe(true); // took "a", waiting for "b"
      await vi.advanceTimersByTimeAsync(20);
      expect(many.error).toBeInstanceOf(LockTimeoutError);
      expect((many.error as LockTimeoutError).timeoutMs).toBe(20);
      expect(km.isLocked("a")).toBe(false);
      b.release();
      expect(km.size).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("acquireMany that is aborted releases what it took and rejects with the caller's reason", async () => {
    const km = new KeyedMutex<string>();
    const b = await km.acquire("b");
    const ac = new AbortController();
    const many = track(km.acquireMany(["b", "a"], { signal: ac.signal }));
    await drain();
    expect(km.isLocked("a")).toBe(true);
    const reason = new Error("user cancelled");
    ac.abort(reason);
    await drain();
    expect(many.state).toBe("rejected");
    expect((many.error as Error).name).toBe("AbortError");
    expect((many.error as Error).cause).toBe(reason);
    expect(km.isLocked("a")).toBe(false);
    b.release();
    expect(km.size).toBe(0);
  });

  it("orders mixed key types totally and consistently", () => {
    const o1 = {};
    const o2 = {};
    const s = Symbol("s");
    const keys = ["b", 2, o1, null, undefined, 1n, true, "a", Number.NaN, o2, s, -1];
    const sorted = [...keys].sort(compareKeys);
    const reversed = [...keys].reverse().sort(compareKeys);
    expect(reversed).toEqual(sorted);
    for (let i = 0; i < sorted.length - 1; i++) {
      expect(compareKeys(sorted[i], sorted[i + 1])).toBeLessThan(0);
    }
    expect(canonicalKeys([0, -0, 1, 1, "1"])).toEqual([0, 1, "1"]);
  });
});

describe("KeyedMutex argument errors", () => {
  it("bad options throw synchronously and leave no key behind", async () => {
    const km = new KeyedMutex<string>();
    expect(() => km.acquire("x", { timeoutMs: -1 })).toThrow(RangeError);
    expect(() => km.acquireMany(["x"], { timeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => km.acquireMany(undefined as unknown as string[])).toThrow(TypeError);
    expect(km.size).toBe(0);
  });

  it("acquireMany with a timeout too long for setTimeout waits without limit", async () => {
    const km = new KeyedMutex<string>();
    const held = await km.acquire("a");
    const many = track(km.acquireMany(["a"], { timeoutMs: 2 ** 31 }));
    await new Promise((r) => setTimeout(r, 5)); // a real macrotask: an overflowed timer would fire here
    expect(many.state).toBe("pending");
    held.release();
    await drain();
    expect(many.state).toBe("fulfilled");
    many.value!.release();
  });
});
