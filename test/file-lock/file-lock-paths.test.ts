import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  acquireFileLock,
  FileLockPathError,
  readLockHolder,
  tryAcquireFileLock,
} from "../../src/file-lock/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { LockChild } from "./helpers.js";

const tempDir = useTempDir();

describe("lock file paths", () => {
  it("an empty path throws FileLockPathError EFLOCKPATH synchronously", () => {
    let err: any;
    try {
      acquireFileLock("");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FileLockPathError);
    expect(err.code).toBe("EFLOCKPATH");
    expect(() => tryAcquireFileLock("")).toThrow(FileLockPathError);
    expect(() => readLockHolder("")).toThrow(FileLockPathError);
  });

  it("a directory rejects with EFLOCKISDIR", async () => {
    const dir = tempDir();
    const err = await acquireFileLock(dir).catch((e) => e);
    expect(err).toBeInstanceOf(FileLockPathError);
    expect(err.code).toBe("EFLOCKISDIR");
    expect(err.path).toBe(dir);
    const viaRead = await readLockHolder(dir).catch((e) => e);
    expect(viaRead.code).toBe("EFLOCKISDIR");
  });

  it("a parent that is a regular file rejects with EFLOCKPATH", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "file"), "");
    const err = await acquireFileLock(join(dir, "file", "x.lock")).catch((e) => e);
    expect(err).toBeInstanceOf(FileLockPathError);
    expect(err.code).toBe("EFLOCKPATH");
  });

  it("a FIFO or device rejects with EFLOCKPATH", async () => {
    const dir = tempDir();
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const err = await acquireFileLock(fifo).catch((e) => e);
    expect(err).toBeInstanceOf(FileLockPathError);
    expect(err.code).toBe("EFLOCKPATH");
    expect((await acquireFileLock("/dev/null").catch((e) => e)).code).toBe("EFLOCKPATH");
  });

  it("creates missing parent directories, and the file with mode 0o666 & ~umask", async () => {
    const dir = tempDir();
    // Run in a child so its umask is ours to set.
    for (const mask of [0o022, 0o002, 0o077]) {
      const child = await LockChild.start();
      expect((await child.request({ op: "umask", mask })).ok).toBe(true);
      const path = join(dir, `m${mask.toString(8)}`, "deep", "er", "x.lock");
      const r = await child.request({ op: "acquire", path });
      expect(r.ok).toBe(true);
      expect(statSync(path).mode & 0o777).toBe(0o666 & ~mask);
      expect(statSync(join(dir, `m${mask.toString(8)}`, "deep")).mode & 0o777).toBe(0o777 & ~mask);
      await child.kill();
    }
  });

  it("does not follow a symlink planted at the lock path, and writes nothing through it", async () => {
    const dir = tempDir();
    const victim = join(dir, "victim.txt");
    writeFileSync(victim, "precious");
    const link = join(dir, "planted.lock");
    symlinkSync(victim, link);
    const err = await acquireFileLock(link).catch((e) => e);
    expect(err).toBeInstanceOf(FileLockPathError);
    expect(err.code).toBe("EFLOCKPATH");
    expect(err.message).toMatch(/symbolic link/);
    expect(readFileSync(victim, "utf8")).toBe("precious");
    // A dangling link must not create its target either.
    const dangling = join(dir, "dangling.lock");
    symlinkSync(join(dir, "created-by-link"), dangling);
    expect((await acquireFileLock(dangling).catch((e) => e)).code).toBe("EFLOCKPATH");
    expect(existsSync(join(dir, "created-by-link"))).toBe(false);
  });

  it("never overwrites content it did not write (locking a data file leaves it alone)", async () => {
    const dir = tempDir();
    const data = join(dir, "config.json");
    writeFileSync(data, '{"important":true}');
    const lock = await acquireFileLock(data, { holder: { purpose: "edit" } });
    expect(readFileSync(data, "utf8")).toBe('{"important":true}');
    expect(await readLockHolder(data)).toBeUndefined();
    await lock.release();
    expect(readFileSync(data, "utf8")).toBe('{"important":true}');
  });

  it("never deletes the lock file", async () => {
    const path = join(tempDir(), "stays.lock");
    const lock = await acquireFileLock(path);
    await lock.release();
    expect(existsSync(path)).toBe(true);
  });

  it("an unwritable parent rejects with EFLOCKACCES", async () => {
    const dir = tempDir();
    const locked = join(dir, "readonly");
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    chmodSync(dir, 0o755);
    const path = join(locked, "sub", "x.lock");
    if (process.getuid?.() === 0) {
      // Root ignores permission bits; ask as an unprivileged user instead.
      const child = await LockChild.start({ uid: 65534, gid: 65534 });
      const r = await child.request({ op: "acquire", path });
      expect(r.ok).toBe(false);
      expect(r.name).toBe("FileLockPathError");
      expect(r.code).toBe("EFLOCKACCES");
    } else {
      const err = await acquireFileLock(path).catch((e) => e);
      expect(err).toBeInstanceOf(FileLockPathError);
      expect(err.code).toBe("EFLOCKACCES");
    }
  });
});
