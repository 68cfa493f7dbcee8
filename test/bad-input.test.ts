// Arguments passed the wrong way throw typed errors at once, saying what was passed,
// before anything is queued or acquired.
import { describe, expect, it } from "vitest";
import { writeFileAtomic } from "../src/atomic/index.js";
import { KeyedMutex } from "../src/keyed-mutex.js";
import { KeyedRWLock } from "../src/keyed-rw-lock.js";
import { Mutex } from "../src/mutex.js";
import { RWLock } from "../src/rw-lock.js";
import { Semaphore } from "../src/semaphore.js";

describe("bad input", () => {
  it("a number or null where the options object belongs", () => {
    const m = new Mutex();
    expect(() => m.acquire(1000 as never)).toThrow(
      new TypeError(
        "Expected `options` to be an object such as { timeoutMs: 1000, signal }, got the number 1000",
      ),
    );
    expect(() => m.acquire(null as never)).toThrow(/got null/);
    expect(m.isLocked).toBe(false);
  });

  it("a string timeoutMs is a type error that says it is a string", () => {
    const m = new Mutex();
    expect(() => m.acquire({ timeoutMs: "1000" as never })).toThrow(TypeError);
    expect(() => m.acquire({ timeoutMs: "1000" as never })).toThrow(/the string "1000"/);
    expect(() => m.acquire({ timeoutMs: -1 })).toThrow(RangeError);
  });

  it('acquireMany("abc") is refused instead of locking "a", "b" and "c"', () => {
    const keys = new KeyedMutex<string>();
    expect(() => keys.acquireMany("abc")).toThrow(TypeError);
    expect(() => keys.acquireMany("abc")).toThrow(/the string "abc"; wrap a single key/);
    expect(keys.size).toBe(0);
  });

  it('new Semaphore("4") says it got a string', () => {
    expect(() => new Semaphore("4" as never)).toThrow(TypeError);
    expect(() => new Semaphore("4" as never)).toThrow(/the string "4"/);
    expect(() => new Semaphore(0)).toThrow(RangeError);
    expect(() => new Semaphore(2).acquire({ weight: "1" as never })).toThrow(TypeError);
  });

  it("runExclusive/runRead/runWrite with a non-function throw before queueing", () => {
    const m = new Mutex();
    const held = m.tryAcquire()!;
    expect(() => m.runExclusive(42 as never)).toThrow(/`fn` to be a function, got the number 42/);
    expect(m.waiting).toBe(0);
    const rw = new RWLock();
    expect(() => rw.runRead(null as never)).toThrow(TypeError);
    expect(() => rw.runWrite("x" as never)).toThrow(TypeError);
    expect(rw.waiting).toBe(0);
    const krw = new KeyedRWLock<string>();
    expect(() => krw.runWrite("k", 1 as never)).toThrow(TypeError);
    expect(krw.size).toBe(0);
    const km = new KeyedMutex<string>();
    expect(() => km.runExclusive("k", {} as never)).toThrow(TypeError);
    expect(km.size).toBe(0);
    expect(() => new Semaphore(1).runExclusive(undefined as never)).toThrow(TypeError);
    held.release();
  });

  it("writeFileAtomic mode: decimal by mistake, a string, or above 0o7777", () => {
    expect(() => writeFileAtomic("/tmp/x", "", { mode: 644 })).toThrow(
      new RangeError(
        "`mode` 644 is decimal, which is 0o1204 (the sticky bit and odd permissions); did you mean 0o644?",
      ),
    );
    expect(() => writeFileAtomic("/tmp/x", "", { mode: 755 })).toThrow(/did you mean 0o755\?/);
    expect(() => writeFileAtomic("/tmp/x", "", { mode: "644" as never })).toThrow(TypeError);
    expect(() => writeFileAtomic("/tmp/x", "", { mode: 0o10000 })).toThrow(RangeError);
    // Real octal modes, including special bits written as octal, pass validation.
    for (const mode of [0o644, 0o600, 0o755, 0o4755, 0o1777, 420]) {
      expect(() =>
        writeFileAtomic("/nonexistent-dir/x", "", { mode }).catch(() => {}),
      ).not.toThrow();
    }
  });
});
