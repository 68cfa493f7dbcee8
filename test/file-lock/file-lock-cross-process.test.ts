import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortError, LockTimeoutError } from "../../src/errors.js";
import { closeIdleFileLocks } from "../../src/file-lock/entry.js";
import {
  acquireFileLock,
  type FileLockMode,
  readLockHolder,
  tryAcquireFileLock,
} from "../../src/file-lock/index.js";
import { isProcessAlive } from "../../src/process/index.js";
import { drain, track } from "../helpers/settle.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { LockChild, openFdsUnder } from "./helpers.js";

const tempDir = useTempDir();

describe("file locks across processes", () => {
  describe("shared/exclusive matrix", () => {
    // One child for the four cases: starting a TypeScript child costs ~0.5 s.
    let child: LockChild;
    beforeAll(async () => {
      child = await LockChild.start({ keep: true });
    });
    afterAll(() => child.kill());

    const modes: FileLockMode[] = ["exclusive", "shared"];
    for (const held of modes) {
      for (const wanted of modes) {
        const compatible = held === "shared" && wanted === "shared";
        it(`${held} held by another process, ${wanted} wanted: ${compatible ? "granted" : "refused"}`, async () => {
          const path = join(tempDir(), "matrix.lock");
          expect((await child.request({ op: "acquire", path, mode: held })).ok).toBe(true);
          const got = await tryAcquireFileLock(path, { mode: wanted });
          expect(got !== undefined).toBe(compatible);
          await got?.release();
          // And the other way round: the child asks while we hold.
          await child.request({ op: "release", path });
          const ours = await acquireFileLock(path, { mode: held });
          const r = await child.request({ op: "try", path, mode: wanted });
          expect(r.got).toBe(compatible);
          if (r.got) await child.request({ op: "release", path });
          await ours.release();
        });
      }
    }
  });

  it("shared holders in different processes overlap; an exclusive one waits for all", async () => {
    const path = join(tempDir(), "overlap.lock");
    const [a, b] = await Promise.all([LockChild.start(), LockChild.start()]);
    expect((await a.request({ op: "acquire", path, mode: "shared" })).ok).toBe(true);
    expect((await b.request({ op: "acquire", path, mode: "shared" })).ok).toBe(true);
    const writer = track(acquireFileLock(path));
    await drain();
    await a.request({ op: "release", path });
    expect(writer.state).toBe("pending");
    await b.request({ op: "release", path });
    const lock = await writer.promise;
    expect((await a.request({ op: "try", path, mode: "shared" })).got).toBe(false);
    await lock.release();
  });

  it("a holder killed with SIGKILL frees the lock: the next process gets it within 2 s", async () => {
    const path = join(tempDir(), "killed.lock");
    const child = await LockChild.start();
    expect((await child.request({ op: "acquire", path, holder: { purpose: "doomed" } })).ok).toBe(
      true,
    );
    const waiter = track(acquireFileLock(path, { holder: { purpose: "survivor" } }));
    await drain();
    expect(waiter.state).toBe("pending");
    const killedAt = performance.now();
    child.proc.kill("SIGKILL");
    const lock = await waiter.promise;
    expect(performance.now() - killedAt).toBeLessThan(2_000);
    expect((await child.exited)[1]).toBe("SIGKILL");
    expect((await readLockHolder(path))?.purpose).toBe("survivor");
    await lock.release();
  });

  it("child processes of the holder do not inherit the lock (descriptors are close-on-exec)", async () => {
    const path = join(tempDir(), "inherit.lock");
    const child = await LockChild.start();
    await child.request({ op: "acquire", path });
    const { sleeperPid } = await child.request({ op: "spawnSleeper" });
    try {
      await child.kill("SIGKILL");
      expect(isProcessAlive(sleeperPid)).toBe(true);
      // The grandchild lives on, yet the lock is free.
      const lock = await acquireFileLock(path, { timeoutMs: 2_000 });
      await lock.release();
    } finally {
      process.kill(sleeperPid, "SIGKILL");
    }
  });

  it("times out promptly while another process holds it, and the error names the holder", async () => {
    const dir = tempDir();
    const path = join(dir, "timeout.lock");
    const child = await LockChild.start();
    await child.request({ op: "acquire", path, holder: { purpose: "deploy" } });
    const fds = openFdsUnder(dir);
    const started = performance.now();
    const err = await acquireFileLock(path, { timeoutMs: 300 }).catch((e) => e);
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(err.message).toMatch(
      new RegExp(`held by pid ${child.pid} \\(deploy\\) for \\d+\\.\\d s`),
    );
    expect(elapsed).toBeGreaterThanOrEqual(299);
    expect(elapsed).toBeLessThan(1_000);
    closeIdleFileLocks();
    expect(openFdsUnder(dir)).toBe(fds);
    // The timed-out waiter was never granted: once the child lets go, the lock is free.
    await child.request({ op: "release", path });
    expect((await child.request({ op: "try", path })).got).toBe(true);
  });

  it("a timeout against shared holders in another process says so", async () => {
    const path = join(tempDir(), "timeout-shared.lock");
    const child = await LockChild.start();
    await child.request({ op: "acquire", path, holder: { purpose: "old" } });
    await child.request({ op: "release", path });
    await child.request({ op: "acquire", path, mode: "shared" });
    const err = await acquireFileLock(path, { timeoutMs: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(err.message).toMatch(/held in shared mode by other processes/);
  });

  it("aborts promptly while another process holds it, and is never granted", async () => {
    const dir = tempDir();
    const path = join(dir, "abort.lock");
    const child = await LockChild.start();
    await child.request({ op: "acquire", path });
    const fds = openFdsUnder(dir);
    const ac = new AbortController();
    const waiter = track(acquireFileLock(path, { signal: ac.signal }));
    // Let it poll for a while first, so the abort lands in a backoff sleep.
    await new Promise((r) => setTimeout(r, 100));
    const reason = new Error("shutting down");
    const abortedAt = performance.now();
    ac.abort(reason);
    const err = await waiter.promise.catch((e) => e);
    expect(performance.now() - abortedAt).toBeLessThan(100);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.cause).toBe(reason);
    closeIdleFileLocks();
    expect(openFdsUnder(dir)).toBe(fds);
    await child.request({ op: "release", path });
    expect((await child.request({ op: "try", path })).got).toBe(true);
  });

  it("another process's waiter times out and aborts with typed errors too", async () => {
    const path = join(tempDir(), "child-waits.lock");
    const lock = await acquireFileLock(path, { holder: { purpose: "parent" } });
    const child = await LockChild.start();
    const t = await child.request({ op: "acquire", path, timeoutMs: 100 });
    expect(t).toMatchObject({ ok: false, name: "LockTimeoutError", code: "ELOCKTIMEOUT" });
    expect(t.message).toMatch(new RegExp(`held by pid ${process.pid} \\(parent\\)`));
    const a = await child.request({ op: "acquireAbortLater", path, afterMs: 50 });
    expect(a).toMatchObject({ ok: false, name: "AbortError", causeMessage: "child gave up" });
    await lock.release();
  });
});
