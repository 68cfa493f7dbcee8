import { execFileSync, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { acquireFileLock, readLockHolder, tryAcquireFileLock } from "../../src/file-lock/index.js";
import { processStartTime } from "../../src/process/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { LockChild } from "./helpers.js";

const fsx = createRequire(import.meta.url)("fs-ext") as typeof import("fs-ext");
const tempDir = useTempDir();

/** Holds `path` exclusively through a raw descriptor with `content` in it: a holder
 * whose record we write by hand. */
function holdWithContent(path: string, content: string): () => void {
  writeFileSync(path, content);
  const fd = openSync(path, "r");
  fsx.flockSync(fd, "ex");
  return () => closeSync(fd);
}

describe("readLockHolder", () => {
  it("is undefined for a missing file, and does not create it", async () => {
    const path = join(tempDir(), "missing.lock");
    expect(await readLockHolder(path)).toBeUndefined();
    expect(existsSync(path)).toBe(false);
  });

  it("is undefined once the lock is free, though the last record stays in the file", async () => {
    const path = join(tempDir(), "free.lock");
    const lock = await acquireFileLock(path, { holder: { purpose: "gone" } });
    expect((await readLockHolder(path))?.purpose).toBe("gone");
    await lock.release();
    expect(await readLockHolder(path)).toBeUndefined();
  });

  it("names a holder in another process", async () => {
    const path = join(tempDir(), "other.lock");
    const child = await LockChild.start();
    expect((await child.request({ op: "acquire", path, holder: { purpose: "migrate" } })).ok).toBe(
      true,
    );
    const h = await readLockHolder(path);
    expect(h).toMatchObject({ pid: child.pid, hostname: hostname(), purpose: "migrate" });
    expect(h!.processStartTime).toBe(processStartTime(child.pid));
    await child.request({ op: "release", path });
    expect(await readLockHolder(path)).toBeUndefined();
  });

  it("parses the record as JSON: whitespace, key order and look-alike text do not matter", async () => {
    const path = join(tempDir(), "json.lock");
    const start = processStartTime(process.pid);
    const record = {
      note: '"pid":999, pid: 999',
      acquiredAt: 1_700_000_000_000,
      hostname: hostname(),
      processStartTime: start,
      pid: process.pid,
    };
    const release = holdWithContent(path, JSON.stringify(record, null, 2));
    expect(await readLockHolder(path)).toEqual(record);
    release();
  });

  it("is undefined for content that is not a valid record", async () => {
    const dir = tempDir();
    for (const [i, content] of [
      "",
      "pid=1234",
      '{"pid":1234',
      "[1,2]",
      '{"pid":"1234","hostname":"h","acquiredAt":1}',
      '{"pid":1234,"acquiredAt":1}',
      '{"pid":-1,"hostname":"h","acquiredAt":1}',
      '{"pid":1234,"hostname":"h","acquiredAt":"yesterday"}',
    ].entries()) {
      const path = join(dir, `bad${i}.lock`);
      const release = holdWithContent(path, content);
      expect(await readLockHolder(path), content).toBeUndefined();
      release();
    }
  });

  it("a record from another host is returned as is (its PID cannot be checked here)", async () => {
    const path = join(tempDir(), "remote.lock");
    const record = { pid: 4_000_000, hostname: "elsewhere.example", acquiredAt: Date.now() };
    const release = holdWithContent(path, JSON.stringify(record));
    expect(await readLockHolder(path)).toEqual(record);
    release();
  });

  it("PID reuse: a record whose PID now belongs to a process with another start time is not valid", async () => {
    const path = join(tempDir(), "reused.lock");
    const start = processStartTime(process.pid);
    // Our own PID, but a start time that is not ours: the PID was reused.
    const release = holdWithContent(
      path,
      JSON.stringify({
        pid: process.pid,
        hostname: hostname(),
        processStartTime: (start ?? 0) + 1,
        acquiredAt: Date.now(),
      }),
    );
    expect(await readLockHolder(path)).toBeUndefined();
    release();
  });

  it("a record of a process that has exited is not valid", async () => {
    const path = join(tempDir(), "dead.lock");
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    const release = holdWithContent(
      path,
      JSON.stringify({ pid: dead, hostname: hostname(), acquiredAt: Date.now() }),
    );
    expect(await readLockHolder(path)).toBeUndefined();
    release();
  });

  it("shared holders are not exclusive holders: undefined", async () => {
    const path = join(tempDir(), "shared.lock");
    const child = await LockChild.start();
    await child.request({ op: "acquire", path, holder: { purpose: "x" } });
    await child.request({ op: "release", path });
    // The file still has the child's record; now it is held shared.
    await child.request({ op: "acquire", path, mode: "shared" });
    expect(await readLockHolder(path)).toBeUndefined();
  });

  it("refuses a symlink", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "target"), "");
    symlinkSync(join(dir, "target"), join(dir, "link.lock"));
    const err = await readLockHolder(join(dir, "link.lock")).catch((e) => e);
    expect(err.code).toBe("EFLOCKPATH");
  });
});

describe("when the holder record cannot be written", () => {
  it("the grant is refused with the error and the lock given back: a token that does not last would repeat", async () => {
    const path = join(tempDir(), "full.lock");
    // A short record of a live process (PID 1) that our longer record must replace.
    const before = JSON.stringify({ pid: 1, hostname: hostname(), acquiredAt: 1 });
    writeFileSync(path, before);
    const child = await LockChild.start();
    // No file may grow in the child any more: the record write fails with EFBIG, as on
    // a full disk. (Node ignores SIGXFSZ, so the write fails instead of killing it.)
    execFileSync("prlimit", [`--pid=${child.pid}`, "--fsize=0:0"]);
    expect(await child.request({ op: "acquire", path })).toMatchObject({
      ok: false,
      code: "EFBIG",
    });
    expect(readFileSync(path, "utf8")).toBe(before);
    expect(await readLockHolder(path)).toBeUndefined();
    const lock = await tryAcquireFileLock(path);
    expect(lock?.token).toBe(1);
    await lock?.release();
  });
});

describe("never naming a process that does not hold the lock", () => {
  it("a released holder that stays alive is not named when a program without records takes the lock", async () => {
    const path = join(tempDir(), "stale.lock");
    const a = await LockChild.start();
    await a.request({ op: "acquire", path, holder: { purpose: "A" } });
    expect((await readLockHolder(path))?.pid).toBe(a.pid);
    await a.request({ op: "release", path });
    // A flock(1)-style holder: locks the file, writes nothing.
    const fd = openSync(path, "r");
    fsx.flockSync(fd, "ex");
    try {
      expect(await readLockHolder(path)).toBeUndefined();
      const err = await acquireFileLock(path, { timeoutMs: 50 }).catch((e) => e);
      expect(err.code).toBe("ELOCKTIMEOUT");
      expect(err.message).not.toMatch(new RegExp(`pid ${a.pid}`));
      expect(err.message).toMatch(/left no holder record/);
    } finally {
      closeSync(fd);
    }
  });

  it("a release marks the record released: the file's mtime becomes a 1970 marker", async () => {
    const path = join(tempDir(), "marked.lock");
    const lock = await acquireFileLock(path, { holder: { purpose: "x" } });
    expect(statSync(path).mtimeMs).toBeGreaterThan(2 ** 30 * 1000);
    await lock.release();
    expect(statSync(path).mtimeMs).toBeLessThan(2 ** 30 * 1000);
    // Held again by a program that writes nothing: the old record is not named.
    const fd = openSync(path, "r");
    fsx.flockSync(fd, "ex");
    try {
      expect(await readLockHolder(path)).toBeUndefined();
    } finally {
      closeSync(fd);
    }
  });
});
