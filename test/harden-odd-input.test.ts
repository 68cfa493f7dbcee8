// Odd input that used to crash, leak or mislead: each case gets a typed answer.
import { spawnSync } from "node:child_process";
import { getEventListeners } from "node:events";
import {
  chmodSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { sweepTempFiles, writeFileAtomic } from "../src/atomic/index.js";
import { io } from "../src/atomic/io.js";
import { acquireFileLock, readLockHolder } from "../src/file-lock/index.js";
import { KeyedMutex } from "../src/keyed-mutex.js";
import { isProcessAlive, processStartTime } from "../src/process/index.js";
import { LockChild } from "./file-lock/helpers.js";
import { useTempDir } from "./helpers/temp-dir.js";

const fsx = createRequire(import.meta.url)("fs-ext") as typeof import("fs-ext");
const tempDir = useTempDir();
const isRoot = process.getuid?.() === 0;
afterEach(() => {
  vi.restoreAllMocks();
});

describe("PIDs no process can have", () => {
  it("isProcessAlive(2^31 and above) is false; processStartTime is undefined", () => {
    for (const pid of [2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      expect(isProcessAlive(pid)).toBe(false);
      expect(isProcessAlive(pid, 123)).toBe(false);
      expect(processStartTime(pid)).toBeUndefined();
    }
  });

  it("readLockHolder on a held record with such a PID answers undefined instead of rejecting", async () => {
    const path = join(tempDir(), "bigpid.lock");
    writeFileSync(path, JSON.stringify({ pid: 2 ** 31, hostname: hostname(), acquiredAt: 1 }));
    const fd = openSync(path, "r");
    fsx.flockSync(fd, "ex");
    try {
      expect(await readLockHolder(path)).toBeUndefined();
    } finally {
      closeSync(fd);
    }
  });
});

describe("sweepTempFiles", () => {
  it("sweeps every stale name (huge PIDs, newlines) and reports what it could not remove at the end", async () => {
    const dir = tempDir();
    const hex = "0123456789abcdef";
    const stale = [`.a.99999999999.${hex}.tmp`, `.line\nbreak.99999999999.${hex}.tmp`];
    for (const n of stale) writeFileSync(join(dir, n), "");
    // Cannot be unlinked (a directory): reported, and it does not stop the others.
    mkdirSync(join(dir, `.0first.99999999999.${hex}.tmp`));
    const err = await sweepTempFiles(dir).catch((e) => e);
    expect(err).toBeInstanceOf(AggregateError);
    expect(err.errors).toHaveLength(1);
    expect(err.message).toMatch(/removed 2 stale temp file/);
    expect(readdirSync(dir)).toEqual([`.0first.99999999999.${hex}.tmp`]);
  });
});

describe("leaks", () => {
  it("acquireMany with symbol keys keeps none of them alive", () => {
    const script = fileURLToPath(new URL("./fixtures/symbol-keys-heap.ts", import.meta.url));
    const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", script], {
      encoding: "utf8",
    });
    const { growthMiB, size } = JSON.parse(r.stdout) as { growthMiB: number; size: number };
    expect(size).toBe(0);
    // 300,000 symbols kept would be tens of MiB (41.7 MiB for 600,000 before the fix).
    expect(growthMiB).toBeLessThan(5);
  });

  it("writeFileAtomic never has the open of its temp file in flight on the thread pool", async () => {
    // A signal's cleanup runs between tasks and removes the temp files it knows of; an
    // open still in flight would create the file after it looked. So the temp file is
    // created by a synchronous open, and an async open never creates one.
    const dir = tempDir();
    const created: string[] = [];
    const open = io.open;
    vi.spyOn(io, "open").mockImplementation((p, flags, mode) => {
      if (flags & constants.O_CREAT) created.push(p);
      return open(p, flags, mode);
    });
    const openSync = vi.spyOn(io, "openSync");
    await writeFileAtomic(join(dir, "f"), "x");
    await writeFileAtomic(join(dir, "f"), "y");
    expect(created).toEqual([]);
    expect(openSync).toHaveBeenCalled();
    expect(readdirSync(dir)).toEqual(["f"]);
  });

  it("waits sharing one signal add one abort listener between them, not one each", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const path = join(tempDir(), "busy.lock");
      const other = await LockChild.start();
      await other.request({ op: "acquire", path });
      const keys = new KeyedMutex<string>();
      const held = await keys.acquire("k");
      const ac = new AbortController();
      const waits = [
        ...Array.from({ length: 20 }, () => acquireFileLock(path, { signal: ac.signal })),
        ...Array.from({ length: 20 }, () =>
          keys.acquireMany(["k", "j"], { signal: ac.signal, timeoutMs: 60_000 }),
        ),
      ];
      const settled = Promise.allSettled(waits);
      await new Promise((r) => setImmediate(r));
      expect(getEventListeners(ac.signal, "abort").length).toBeLessThanOrEqual(2);
      ac.abort(new Error("shutdown"));
      for (const r of await settled) {
        expect(r.status).toBe("rejected");
        expect((r as PromiseRejectedResult).reason.name).toBe("AbortError");
      }
      held.release();
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("messages that say what happened", () => {
  it("a trailing slash names the slash, for file locks and atomic writes", async () => {
    const dir = tempDir();
    expect(() => acquireFileLock(`${dir}/x/`)).toThrow(/ends with a slash/);
    expect(() => writeFileAtomic(`${dir}/x/`, "")).toThrow(/ends with a slash/);
  });

  it("a temp file removed mid-write: ETEMPVANISHED, not 'the directory does not exist'", async () => {
    const dir = tempDir();
    const p = join(dir, "f");
    writeFileSync(p, "old");
    const fsync = io.fsync;
    vi.spyOn(io, "fsync").mockImplementation(async (fd) => {
      for (const n of readdirSync(dir)) if (n.endsWith(".tmp")) unlinkSync(join(dir, n));
      return fsync(fd);
    });
    const err = await writeFileAtomic(p, "new").catch((e) => e);
    expect(err).toMatchObject({ code: "ETEMPVANISHED" });
    expect(err.message).toMatch(/was removed by someone else before it could be renamed/);
    expect(err.message).not.toMatch(/does not exist/);
    expect(readFileSync(p, "utf8")).toBe("old");
  });

  it("EPERM on the rename in a sticky directory names the owner, not 'no file can be created'", async () => {
    const dir = join(tempDir(), "sticky");
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    const p = join(dir, "f");
    writeFileSync(p, "theirs");
    vi.spyOn(io, "rename").mockImplementation(() =>
      Promise.reject(
        Object.assign(new Error("EPERM: operation not permitted, rename"), {
          code: "EPERM",
          syscall: "rename",
        }),
      ),
    );
    const err = await writeFileAtomic(p, "mine").catch((e) => e);
    expect(err).toMatchObject({ code: "EDIRNOTWRITABLE" });
    expect(err.message).toMatch(/is a sticky directory \(like \/tmp\)/);
    expect(err.message).not.toMatch(/no file can be created/);
    expect(readFileSync(p, "utf8")).toBe("theirs");
  });

  it("readLockHolder on an unreadable file speaks of reading, not of reading and writing", async () => {
    const dir = tempDir();
    const path = join(dir, "secret.lock");
    writeFileSync(path, "");
    chmodSync(path, 0o000);
    chmodSync(dir, 0o755);
    let r: { ok: boolean; code?: string; message?: string };
    if (isRoot) {
      const child = await LockChild.start({ uid: 65534, gid: 65534 });
      r = await child.request({ op: "readHolder", path });
    } else {
      const err = await readLockHolder(path).catch((e) => e);
      r = { ok: false, code: err.code, message: err.message };
    }
    expect(r).toMatchObject({ ok: false, code: "EFLOCKACCES" });
    expect(r.message).toMatch(/for reading \(EACCES\)/);
    expect(r.message).not.toMatch(/reading and writing/);
  });
});
