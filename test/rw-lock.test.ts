import { describe, expect, it } from "vitest";
import { InterlockError, KeyedRWLock, RWLock } from "../src/index.js";
import { drain, track } from "./helpers/settle.js";

describe("RWLock", () => {
  it("readers share, a writer excludes", async () => {
    const l = new RWLock();
    const r1 = await l.readLock();
    const r2 = await l.readLock();
    expect(l.readers).toBe(2);
    const w = track(l.writeLock());
    await drain();
    expect(w.state).toBe("pending");
    r1.release();
    await drain();
    expect(w.state).toBe("pending");
    r2.release();
    await drain();
    expect(w.state).toBe("fulfilled");
    expect(l.isWriteLocked).toBe(true);
    expect(l.readers).toBe(0);
    const r3 = track(l.readLock());
    await drain();
    expect(r3.state).toBe("pending");
    w.value!.release();
    await drain();
    expect(r3.state).toBe("fulfilled");
    r3.value!.release();
    expect(l.readers).toBe(0);
    expect(l.isWriteLocked).toBe(false);
  });

  it("a queued writer blocks every reader that arrives after it (no writer starvation)", async () => {
    const l = new RWLock();
    const r1 = await l.readLock();
    const w = track(l.writeLock());
    const late = track(l.readLock());
    expect(l.tryReadLock()).toBeUndefined();
    await drain();
    expect(late.state).toBe("pending");
    expect(l.readers).toBe(1);
    r1.release();
    await drain();
    expect(w.state).toBe("fulfilled");
    expect(late.state).toBe("pending");
    w.value!.release();
    await drain();
    expect(late.state).toBe("fulfilled");
    late.value!.release();
  });

  it("grants phases in arrival order and lets adjacent readers in together", async () => {
    const l = new RWLock();
    const first = await l.writeLock();
    const events: string[] = [];
    const arrivals = ["r1", "r2", "w1", "r3", "r4", "r5", "w2", "r6"];
    const handles = new Map<string, { release(): void }>();
    const ps = arrivals.map((name) =>
      (name.startsWith("r") ? l.readLock() : l.writeLock()).then((h) => {
        events.push(name);
        handles.set(name, h);
      }),
    );
    const phase = async (names: string[]) => {
      await drain();
      const granted = events.splice(0);
      expect(granted).toEqual(names);
      for (const n of names) handles.get(n)!.release();
    };
    first.release();
    await phase(["r1", "r2"]);
    await phase(["w1"]);
    await phase(["r3", "r4", "r5"]);
    await phase(["w2"]);
    await phase(["r6"]);
    await Promise.all(ps);
  });

  it("a cancelled writer at the head lets the readers behind it in (no reader starvation)", async () => {
    const l = new RWLock();
    const r1 = await l.readLock();
    const ac = new AbortController();
    const w = track(l.writeLock({ signal: ac.signal }));
    const r2 = track(l.readLock());
    await drain();
    expect(r2.state).toBe("pending");
    ac.abort();
    await drain();
    expect(w.state).toBe("rejected");
    expect(r2.state).toBe("fulfilled");
    expect(l.readers).toBe(2);
    r1.release();
    r2.value!.release();
    expect(l.readers).toBe(0);
    expect(l.waiting).toBe(0);
  });

  it("downgrade turns a write lock into a read lock with no writer in between", async () => {
    const l = new RWLock();
    const w = await l.writeLock();
    const r1 = track(l.readLock());
    const w2 = track(l.writeLock());
    const r2 = track(l.readLock());
    const read = w.downgrade();
    await drain();
    expect(r1.state).toBe("fulfilled"); // the reader queued ahead of w2 joins
    expect(w2.state).toBe("pending");
    expect(r2.state).toBe("pending"); // behind w2: waits
    expect(l.readers).toBe(2);
    expect(l.isWriteLocked).toBe(false);
    w.release(); // spent: a no-op
    expect(() => w.downgrade()).toThrow(InterlockError);
    try {
      w.downgrade();
    } catch (err) {
      expect((err as InterlockError).code).toBe("ELOCKRELEASED");
    }
    read.release();
    r1.value!.release();
    await drain();
    expect(w2.state).toBe("fulfilled");
    w2.value!.release();
    await drain();
    expect(r2.state).toBe("fulfilled");
    r2.value!.release();
    expect(l.readers).toBe(0);
  });

  it("tryWriteLock and tryReadLock never barge", async () => {
    const l = new RWLock();
    const w = l.tryWriteLock()!;
    expect(l.tryWriteLock()).toBeUndefined();
    expect(l.tryReadLock()).toBeUndefined();
    const r = track(l.readLock());
    w.release();
    expect(l.tryWriteLock()).toBeUndefined();
    await drain();
    r.value!.release();
    const r2 = l.tryReadLock()!;
    expect(l.tryWriteLock()).toBeUndefined();
    r2.release();
  });

  it("runRead and runWrite release however fn ends", async () => {
    const l = new RWLock();
    expect(await l.runRead(() => "r")).toBe("r");
    await expect(l.runWrite(() => Promise.reject(new Error("w")))).rejects.toThrow("w");
    expect(l.readers).toBe(0);
    expect(l.isWriteLocked).toBe(false);
  });
});

describe("KeyedRWLock", () => {
  it("locks per key and drops idle keys", async () => {
    const l = new KeyedRWLock<string>();
    const wa = await l.writeLock("a");
    const rb = await l.readLock("b");
    const ra = track(l.readLock("a"));
    const wb = track(l.writeLock("b"));
    await drain();
    expect(ra.state).toBe("pending");
    expect(wb.state).toBe("pending");
    expect(l.isWriteLocked("a")).toBe(true);
    expect(l.readers("b")).toBe(1);
    expect(l.waiting("a")).toBe(1);
    expect(l.size).toBe(2);
    wa.release();
    rb.release();
    await drain();
    ra.value!.release();
    wb.value!.release();
    expect(l.size).toBe(0);
    expect(await l.runRead("x", () => l.size)).toBe(1);
    expect(await l.runWrite("x", () => l.isWriteLocked("x"))).toBe(true);
    const d = (await l.writeLock("d")).downgrade();
    expect(l.readers("d")).toBe(1);
    d.release();
    expect(l.tryReadLock("q")).toBeDefined();
    expect(l.size).toBe(1);
  });
});

describe("KeyedRWLock argument errors", () => {
  it("bad options throw synchronously and leave no key behind", () => {
    const l = new KeyedRWLock<string>();
    expect(() => l.readLock("x", { timeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => l.writeLock("x", { signal: "nope" as unknown as AbortSignal })).toThrow(TypeError);
    expect(l.size).toBe(0);
  });
});
