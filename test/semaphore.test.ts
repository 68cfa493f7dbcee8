import { describe, expect, it } from "vitest";
import { Semaphore } from "../src/index.js";
import { drain, track } from "./helpers/settle.js";

describe("Semaphore", () => {
  it("lets `permits` holders in and queues the rest", async () => {
    const s = new Semaphore(2);
    const a = await s.acquire();
    const b = await s.acquire();
    const c = track(s.acquire());
    await drain();
    expect(c.state).toBe("pending");
    expect(s.available).toBe(0);
    expect(s.waiting).toBe(1);
    a.release();
    await drain();
    expect(c.state).toBe("fulfilled");
    b.release();
    c.value!.release();
    expect(s.available).toBe(2);
  });

  it("weighted FIFO: a large waiter at the head is not overtaken by later small ones", async () => {
    const s = new Semaphore(3);
    const one = await s.acquire();
    const two = await s.acquire({ weight: 2 });
    const order: string[] = [];
    const big = s.acquire({ weight: 3 }).then((h) => {
      order.push("big");
      return h;
    });
    const small = s.acquire({ weight: 1 }).then((h) => {
      order.push("small");
      return h;
    });
    one.release(); // one permit free: a LIFO or first-fit queue would hand it to `small`
    await drain();
    expect(order).toEqual([]);
    two.release();
    (await big).release();
    (await small).release();
    expect(order).toEqual(["big", "small"]);
    expect(s.available).toBe(3);
  });

  it("runExclusive returns the value and releases on throw", async () => {
    const s = new Semaphore(1);
    expect(await s.runExclusive(() => 42)).toBe(42);
    await expect(
      s.runExclusive(async () => {
        throw new Error("nope");
      }),
    ).rejects.toThrow("nope");
    expect(s.available).toBe(1);
  });

  it("rejects bad permits and weights synchronously with RangeError", () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
    expect(() => new Semaphore(-1)).toThrow(RangeError);
    expect(() => new Semaphore(Number.NaN)).toThrow(/positive integer/);
    const s = new Semaphore(2);
    expect(() => s.acquire({ weight: 3 })).toThrow(/exceeds the 2 permits/);
    expect(() => s.acquire({ weight: 0 })).toThrow(RangeError);
    expect(() => s.tryAcquire(3)).toThrow(RangeError);
    expect(() => s.acquire({ timeoutMs: -5 })).toThrow(RangeError);
    expect(s.available).toBe(2);
  });

  it("tryAcquire takes a weight and respects the queue", async () => {
    const s = new Semaphore(4);
    const a = s.tryAcquire(3)!;
    expect(s.tryAcquire(2)).toBeUndefined();
    const queued = track(s.acquire({ weight: 2 }));
    expect(s.tryAcquire(1)).toBeUndefined(); // a permit is free, but someone is queued
    a.release();
    await drain();
    expect(queued.state).toBe("fulfilled");
    expect(s.capacity).toBe(4);
  });
});
