import { describe, expect, it } from "vitest";
import { AbortError, InterlockError, LockTimeoutError, Mutex } from "../src/index.js";
import { drain, track } from "./helpers/settle.js";

describe("Mutex", () => {
  it("reports isLocked and waiting", async () => {
    const m = new Mutex();
    expect(m.isLocked).toBe(false);
    const a = await m.acquire();
    const b = track(m.acquire());
    expect(m.isLocked).toBe(true);
    expect(m.waiting).toBe(1);
    a.release();
    expect(m.waiting).toBe(0);
    await drain();
    b.value!.release();
    expect(m.isLocked).toBe(false);
  });

  it("runExclusive serializes async critical sections", async () => {
    const m = new Mutex();
    let inside = 0;
    let max = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        m.runExclusive(async () => {
          inside++;
          max = Math.max(max, inside);
          await drain();
          inside--;
        }),
      ),
    );
    expect(max).toBe(1);
  });

  it("an abort after the grant does not revoke it", async () => {
    const m = new Mutex();
    const ac = new AbortController();
    const h = await m.acquire({ signal: ac.signal });
    ac.abort();
    expect(m.isLocked).toBe(true);
    h.release();
    expect(m.isLocked).toBe(false);
  });

  it("errors are fresh instances of typed classes with stable codes", async () => {
    const m = new Mutex();
    const h = await m.acquire();
    const e1 = await m.acquire({ timeoutMs: 0 }).catch((e) => e);
    const e2 = await m.acquire({ timeoutMs: 0 }).catch((e) => e);
    expect(e1).not.toBe(e2);
    expect(e1).toBeInstanceOf(LockTimeoutError);
    expect(e1).toBeInstanceOf(InterlockError);
    expect(e1.name).toBe("LockTimeoutError");
    expect(e1.message).toMatch(/timeoutMs/);
    const a = await m.acquire({ signal: AbortSignal.abort("why") }).catch((e) => e);
    expect(a).toBeInstanceOf(AbortError);
    expect(a).toBeInstanceOf(InterlockError);
    expect(a.cause).toBe("why");
    h.release();
  });
});
