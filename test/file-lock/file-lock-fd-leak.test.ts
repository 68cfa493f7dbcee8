import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LockTimeoutError } from "../../src/errors.js";
import { closeIdleFileLocks } from "../../src/file-lock/entry.js";
import {
  acquireFileLock,
  readLockHolder,
  tryAcquireFileLock,
  withFileLock,
} from "../../src/file-lock/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { openFds } from "./helpers.js";

const tempDir = useTempDir();

describe("file descriptors", () => {
  it("10,000 acquire/release cycles leave the open-fd count unchanged", async () => {
    const dir = tempDir();
    const path = join(dir, "cycles.lock");
    // Warm up lazily opened things (fs-ext's binding) before counting.
    await (await acquireFileLock(path)).release();
    closeIdleFileLocks();
    const before = openFds();
    let most = 0;
    for (let i = 0; i < 10_000; i++) {
      const lock = await acquireFileLock(path, {
        mode: i % 4 === 3 ? "shared" : "exclusive",
        holder: { i },
      });
      await lock.release();
      if (i % 100 === 0) most = Math.max(most, openFds());
    }
    // Kept open between acquisitions, for speed: the lock file and its gate, no more.
    expect(most).toBeLessThanOrEqual(before + 2);
    closeIdleFileLocks();
    expect(openFds()).toBe(before);
  });

  it("failed, timed-out, aborted and busy attempts close what they opened", async () => {
    const dir = tempDir();
    const path = join(dir, "failures.lock");
    await (await acquireFileLock(path)).release();
    closeIdleFileLocks();
    const before = openFds();
    const holder = await acquireFileLock(path);
    for (let i = 0; i < 50; i++) {
      expect(await tryAcquireFileLock(path)).toBeUndefined();
      await expect(acquireFileLock(path, { timeoutMs: 0 })).rejects.toThrow(LockTimeoutError);
      await expect(acquireFileLock(path, { timeoutMs: 2 })).rejects.toThrow(LockTimeoutError);
      const ac = new AbortController();
      const p = acquireFileLock(path, { signal: ac.signal });
      ac.abort();
      await expect(p).rejects.toThrow(/aborted/);
      await readLockHolder(path);
    }
    await holder.release();
    await expect(acquireFileLock(dir)).rejects.toThrow(/directory/);
    await expect(withFileLock(path, () => Promise.reject(new Error("x")))).rejects.toThrow("x");
    closeIdleFileLocks();
    expect(openFds()).toBe(before);
  });
});
