import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { acquireFileLock } from "../../src/file-lock/index.js";
import { track } from "../helpers/settle.js";
import { useTempDir } from "../helpers/temp-dir.js";

// Another process's lock, played by a raw descriptor: flock locks belong to the open
// file description, so a second descriptor in this process conflicts like a process.
const fsx = createRequire(import.meta.url)("fs-ext") as typeof import("fs-ext");
const tempDir = useTempDir();

function rawLock(path: string): number {
  const fd = openSync(path, "a");
  fsx.flockSync(fd, "ex");
  return fd;
}

/** How many of our descriptors point at a deleted file named `path`. */
function deletedFds(path: string): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === `${path} (deleted)`) n++;
    } catch {}
  }
  return n;
}

describe("a lock file deleted or replaced while we wait", () => {
  it("replaced: the waiter drops the old inode and waits for whoever holds the new one", async () => {
    const dir = tempDir();
    const path = join(dir, "replaced.lock");
    const a = rawLock(path);
    const oldIno = statSync(path).ino;
    const waiter = track(acquireFileLock(path, { holder: { purpose: "waiter" } }));
    // Someone replaces the file (e.g. an atomic write onto it) and locks the new one.
    writeFileSync(join(dir, "tmp"), "");
    renameSync(join(dir, "tmp"), path);
    const b = rawLock(path);
    closeSync(a);
    // The waiter locks the old inode when A lets go, finds the path moved on, and
    // reopens: once it holds no descriptor on the deleted inode it has seen the swap.
    await vi.waitFor(
      () => {
        if (waiter.state === "pending" && deletedFds(path) > 0) throw new Error("not yet");
      },
      { timeout: 5_000, interval: 5 },
    );
    // Granted on the orphaned inode would mean two holders of one path.
    expect(waiter.state).toBe("pending");
    closeSync(b);
    const lock = await waiter.promise;
    expect(statSync(path).ino).not.toBe(oldIno);
    expect(JSON.parse(readFileSync(path, "utf8")).purpose).toBe("waiter");
    await lock.release();
  });

  it("deleted: the waiter locks a freshly created file at the path", async () => {
    const dir = tempDir();
    const path = join(dir, "deleted.lock");
    const a = rawLock(path);
    const waiter = acquireFileLock(path, { holder: { purpose: "after delete" } });
    unlinkSync(path);
    closeSync(a);
    const lock = await waiter;
    // (Not an inode-number comparison: the file system may give the new file the
    // number the deleted one just freed.)
    expect(JSON.parse(readFileSync(path, "utf8")).purpose).toBe("after delete");
    expect(deletedFds(path)).toBe(0);
    // And the new file really is locked: a raw lock on the path conflicts.
    const probe = openSync(path, "r");
    expect(() => fsx.flockSync(probe, "exnb")).toThrow(/EAGAIN|EWOULDBLOCK/);
    closeSync(probe);
    await lock.release();
  });
});
