import { describe, expect, it } from "vitest";
import {
  IdAllocator,
  IdTakenError,
  InterlockError,
  ReservationLostError,
} from "../../src/index.js";

describe("IdAllocator", () => {
  it("three reserve('build') before any await get three distinct ids", async () => {
    const ids = new IdAllocator();
    // What an agent runtime does: start three spawns, each awaiting only after it has
    // its id. The ids must be distinct at the moment they are handed out.
    const spawn = async (base: string) => {
      const r = ids.reserve(base);
      await new Promise((resolve) => setImmediate(resolve));
      r.commit();
      return r.id;
    };
    const got = await Promise.all([spawn("build"), spawn("build"), spawn("build")]);
    expect(got).toEqual(["build", "build-2", "build-3"]);
    expect(new Set(got).size).toBe(3);
  });

  it("skips registered ids and hands a released id out again, lowest n first", () => {
    const ids = new IdAllocator();
    ids.register("web");
    ids.register("web-2");
    const a = ids.reserve("web");
    expect(a.id).toBe("web-3");
    const b = ids.reserve("web");
    expect(b.id).toBe("web-4");
    a.release();
    expect(ids.has("web-3")).toBe(false);
    expect(ids.reserve("web").id).toBe("web-3");
    expect(ids.unregister("web")).toBe(true);
    expect(ids.reserve("web").id).toBe("web");
  });

  it("uses `format` for every candidate, starting at n = 1", () => {
    const ids = new IdAllocator({ format: (base, n) => `${base}#${n}` });
    expect([ids.reserve("s").id, ids.reserve("s").id, ids.reserve("t").id]).toEqual([
      "s#1",
      "s#2",
      "t#1",
    ]);
  });

  it("a format that repeats itself is reported, not looped on", () => {
    const ids = new IdAllocator({ format: () => "same" });
    ids.reserve("x");
    expect(() => ids.reserve("x")).toThrow(/must give a different id for every n/);
    const bad = new IdAllocator({ format: () => "" as string });
    expect(() => bad.reserve("x")).toThrow(/non-empty string, got the string ""/);
  });

  it("commit keeps the id; release and dispose after commit do nothing", () => {
    const ids = new IdAllocator();
    {
      using r = ids.reserve("job");
      r.commit();
      r.commit(); // idempotent
    }
    expect(ids.has("job")).toBe(true);
    expect(ids.reserve("job").id).toBe("job-2");
  });

  it("disposing an uncommitted reservation frees it", () => {
    const ids = new IdAllocator();
    {
      using r = ids.reserve("job");
      expect(ids.has(r.id)).toBe(true);
    }
    expect(ids.has("job")).toBe(false);
    expect(ids.size).toBe(0);
  });

  it("a stale release never frees an id that someone else owns now", () => {
    const ids = new IdAllocator();
    const first = ids.reserve("a");
    first.release();
    const second = ids.reserve("a"); // the same id, a new claim
    expect(second.id).toBe("a");
    first.release(); // stale: twice
    first[Symbol.dispose]();
    expect(ids.has("a")).toBe(true);
    expect(ids.reserve("a").id).toBe("a-2");

    // Committed, unregistered, reserved by someone else: the old handle cannot free it.
    const c = ids.reserve("c");
    c.commit();
    ids.unregister("c");
    const d = ids.reserve("c");
    expect(d.id).toBe("c");
    c.release();
    expect(ids.has("c")).toBe(true);
    expect(() => c.commit()).toThrow(ReservationLostError);
    expect(ids.has("c")).toBe(true);
    d.release();
    expect(ids.has("c")).toBe(false);
  });

  it("commit after release is an error, never a resurrection", () => {
    const ids = new IdAllocator();
    const r = ids.reserve("x");
    r.release();
    let err: unknown;
    try {
      r.commit();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ReservationLostError);
    expect(err).toBeInstanceOf(InterlockError);
    expect((err as ReservationLostError).code).toBe("ERESERVATIONLOST");
    expect((err as ReservationLostError).id).toBe("x");
    expect(ids.has("x")).toBe(false);
  });

  it("register refuses a reserved or registered id with EIDTAKEN naming its status", () => {
    const ids = new IdAllocator();
    const r = ids.reserve("x");
    expect(() => ids.register("x")).toThrow(IdTakenError);
    try {
      ids.register("x");
    } catch (err) {
      expect((err as IdTakenError).code).toBe("EIDTAKEN");
      expect((err as IdTakenError).status).toBe("reserved");
      expect((err as Error).message).toBe('Id "x" is taken (reserved, not yet committed)');
    }
    r.commit();
    expect(() => ids.register("x")).toThrow(/registered/);
    // unregister never frees a reservation: only its handle does.
    const y = ids.reserve("y");
    expect(ids.unregister("y")).toBe(false);
    expect(ids.has(y.id)).toBe(true);
  });

  it("bad arguments throw synchronously, saying what was passed", () => {
    const ids = new IdAllocator();
    expect(() => ids.reserve("")).toThrow(/`base` to be a non-empty string, got the string ""/);
    expect(() => ids.reserve(7 as unknown as string)).toThrow(/got the number 7/);
    expect(() => ids.register(undefined as unknown as string)).toThrow(TypeError);
    expect(() => new IdAllocator({ format: "x" as never })).toThrow(
      /`format` to be a function \(base, n\) => id, got the string "x"/,
    );
    expect(() => new IdAllocator(null as never)).toThrow(TypeError);
  });
});
