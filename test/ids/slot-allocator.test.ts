import { describe, expect, it } from "vitest";
import {
  IdsExhaustedError,
  IdTakenError,
  ReservationLostError,
  SlotAllocator,
} from "../../src/index.js";

describe("SlotAllocator", () => {
  it("gives the lowest free slot, and the freed one first", () => {
    const slots = new SlotAllocator({ min: 3, max: 6 });
    const [a, b, c] = [slots.reserve(), slots.reserve(), slots.reserve()];
    expect([a.id, b.id, c.id]).toEqual([3, 4, 5]);
    b.release();
    expect(slots.reserve().id).toBe(4);
    expect(slots.reserve().id).toBe(6);
    expect(slots.available).toBe(0);
  });

  it("full → IdsExhaustedError (EIDSEXHAUSTED) with the range; nothing reserved", () => {
    const slots = new SlotAllocator({ min: 0, max: 1 });
    slots.reserve().commit();
    slots.reserve();
    let err: unknown;
    try {
      slots.reserve();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IdsExhaustedError);
    expect((err as IdsExhaustedError).code).toBe("EIDSEXHAUSTED");
    expect((err as IdsExhaustedError).min).toBe(0);
    expect((err as IdsExhaustedError).max).toBe(1);
    expect((err as Error).message).toBe(
      "Every slot from 0 to 1 is taken; release one, or widen the range",
    );
    expect(slots.available).toBe(0);
    slots.unregister(0);
    expect(slots.reserve().id).toBe(0);
  });

  it("a one-slot range works, and register/unregister keep the lowest-free rule", () => {
    const one = new SlotAllocator({ min: 9, max: 9 });
    expect(one.reserve().id).toBe(9);
    const slots = new SlotAllocator({ min: 0, max: 9 });
    slots.register(0);
    slots.register(2);
    expect(slots.reserve().id).toBe(1);
    expect(slots.reserve().id).toBe(3);
    expect(slots.unregister(2)).toBe(true);
    expect(slots.reserve().id).toBe(2);
    expect(() => slots.register(1)).toThrow(IdTakenError);
    expect(() => slots.register(10)).toThrow(/an integer from 0 to 9, got the number 10/);
  });

  it("a stale release never frees a slot that someone else holds now", () => {
    const slots = new SlotAllocator({ min: 0, max: 3 });
    const old = slots.reserve();
    old.release();
    const now = slots.reserve();
    expect(now.id).toBe(old.id);
    old.release();
    old[Symbol.dispose]();
    expect(slots.has(0)).toBe(true);
    expect(slots.reserve().id).toBe(1);
    expect(() => old.commit()).toThrow(ReservationLostError);
  });

  it("bad ranges throw RangeError synchronously", () => {
    expect(() => new SlotAllocator({ min: 2, max: 1 })).toThrow(/at most/);
    expect(() => new SlotAllocator({ min: 0.5, max: 1 })).toThrow(
      /`options.min` to be an integer, got the number 0.5/,
    );
    expect(() => new SlotAllocator({ min: 0, max: "9" as never })).toThrow(/got the string "9"/);
    expect(() => new SlotAllocator(undefined as never)).toThrow(TypeError);
  });
});
