import { closeSync, openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AbortError, LockTimeoutError } from "../../src/errors.js";
import { closeIdleFileLocks } from "../../src/file-lock/entry.js";
import {
  acquireFileLock,
  type FileLockHandle,
  readLockHolder,
  tryAcquireFileLock,
  withFileLock,
} from "../../src/file-lock/index.js";
import { drain, track } from "../helpers/settle.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { openFds, openFdsUnder } from "./helpers.js";

const tempDir = useTempDir();
const fsx = createRequire(import.meta.url)("fs-ext") as typeof import("fs-ext");

describe("acquireFileLock", () => {
  it("resolves a handle with the absolute path and mode, and release frees the lock", async () => {
    const dir = tempDir();
    const path = join(dir, "a.lock");
    const lock = await acquireFileLock(path);
    expect(lock.path).toBe(path);
    expect(lock.mode).toBe("exclusive");
    expect(lock.held).toBe(true);
    expect(await tryAcquireFileLock(path)).toBeUndefined();
    await lock.release();
    expect(lock.held).toBe(false);
    const again = await tryAcquireFileLock(path);
    expect(again).toBeDefined();
    await again!.release();
  });

  it("resolves relative paths against the current directory", async () => {
    const dir = tempDir();
    const rel = join(dir, "x", "..", "b.lock");
    const lock = await acquireFileLock(rel);
    expect(lock.path).toBe(join(dir, "b.lock"));
    await lock.release();
  });

  it("release is idempotent and never releases the next holder", async () => {
    const path = join(tempDir(), "idem.lock");
    const first = await acquireFileLock(path);
    await first.release();
    const second = await acquireFileLock(path);
    await first.release();
    await first.release();
    expect(second.held).toBe(true);
    expect(await tryAcquireFileLock(path)).toBeUndefined();
    await second.release();
  });

  it("works with `await using`", async () => {
    const path = join(tempDir(), "using.lock");
    let inner: FileLockHandle | undefined;
    {
      await using lock = await acquireFileLock(path);
      inner = lock;
      expect(await tryAcquireFileLock(path)).toBeUndefined();
    }
    expect(inner.held).toBe(false);
    const next = await tryAcquireFileLock(path);
    expect(next).toBeDefined();
    await next!.release();
  });

  it("queues acquirers of one path in this process FIFO", async () => {
    const path = join(tempDir(), "fifo.lock");
    const first = await acquireFileLock(path);
    const order: number[] = [];
    const waiters = [1, 2, 3, 4].map((i) =>
      acquireFileLock(path).then(async (l) => {
        order.push(i);
        await l.release();
      }),
    );
    await drain();
    expect(order).toEqual([]);
    await first.release();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it("keys the in-process queue by absolute path: two spellings share one queue", async () => {
    const dir = tempDir();
    const a = join(dir, "same.lock");
    const b = join(dir, ".", "sub", "..", "same.lock");
    const first = await acquireFileLock(a);
    const order: string[] = [];
    const w1 = acquireFileLock(b).then(async (l) => {
      order.push("b");
      await l.release();
    });
    const w2 = acquireFileLock(a).then(async (l) => {
      order.push("a");
      await l.release();
    });
    await first.release();
    await Promise.all([w1, w2]);
    expect(order).toEqual(["b", "a"]);
  });

  it("only the head of the in-process queue opens the lock file", async () => {
    const path = join(tempDir(), "head.lock");
    const holder = await acquireFileLock(path);
    const before = openFds();
    const waiters = Array.from({ length: 8 }, () => track(acquireFileLock(path)));
    await drain();
    // Eight queued waiters, no descriptor among them: they wait in memory.
    expect(openFds()).toBe(before);
    await holder.release();
    for (const w of waiters) await (await w.promise).release();
  });

  it("while another process holds the file, only the head waiter polls the kernel", async () => {
    const dir = tempDir();
    const path = join(dir, "head-kernel.lock");
    // Another process's lock, played by a raw descriptor (flock locks belong to the open
    // file description, so it conflicts with ours like a process would).
    const other = openSync(path, "a");
    fsx.flockSync(other, "ex");
    const waiters = Array.from({ length: 8 }, () => track(acquireFileLock(path)));
    await drain();
    // The other's descriptor and the head's two (the lock file and its writer gate);
    // the other seven wait in memory.
    expect(openFdsUnder(dir)).toBe(3);
    closeSync(other);
    for (const w of waiters) await (await w.promise).release();
    closeIdleFileLocks();
    expect(openFdsUnder(dir)).toBe(0);
  });

  it("shared holders in one process overlap; an exclusive waiter waits for all of them", async () => {
    const path = join(tempDir(), "shared.lock");
    const r1 = await acquireFileLock(path, { mode: "shared" });
    const r2 = await acquireFileLock(path, { mode: "shared" });
    expect(r2.mode).toBe("shared");
    const writer = track(acquireFileLock(path));
    await drain();
    expect(writer.state).toBe("pending");
    // FIFO: a reader arriving after the queued writer waits behind it.
    const late = track(acquireFileLock(path, { mode: "shared" }));
    await r1.release();
    await drain();
    expect(writer.state).toBe("pending");
    await r2.release();
    const w = await writer.promise;
    expect(late.state).toBe("pending");
    await w.release();
    await (await late.promise).release();
  });

  it("tryAcquireFileLock never jumps the in-process queue", async () => {
    const path = join(tempDir(), "try.lock");
    const holder = await acquireFileLock(path);
    const waiter = acquireFileLock(path);
    await holder.release();
    // The lock is handed to the queued waiter; a try in between gets nothing.
    expect(await tryAcquireFileLock(path)).toBeUndefined();
    await (await waiter).release();
  });

  it("times out while another holder in this process holds it, naming the holder", async () => {
    const path = join(tempDir(), "timeout.lock");
    const holder = await acquireFileLock(path, { holder: { purpose: "in-process test" } });
    const err = await acquireFileLock(path, { timeoutMs: 20 }).catch((e) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(err.code).toBe("ELOCKTIMEOUT");
    expect(err.timeoutMs).toBe(20);
    expect(err.message).toMatch(
      new RegExp(`held by pid ${process.pid} \\(in-process test\\) for \\d+\\.\\d s`),
    );
    // timeoutMs: 0 means "only if free right now".
    const zero = await acquireFileLock(path, { timeoutMs: 0 }).catch((e) => e);
    expect(zero).toBeInstanceOf(LockTimeoutError);
    await holder.release();
    const next = await acquireFileLock(path, { timeoutMs: 0 });
    await next.release();
  });

  it("aborts a waiter with AbortError carrying signal.reason, and never grants it", async () => {
    const path = join(tempDir(), "abort.lock");
    const holder = await acquireFileLock(path);
    const ac = new AbortController();
    const waiter = track(acquireFileLock(path, { signal: ac.signal }));
    const reason = new Error("stop");
    ac.abort(reason);
    const err = await waiter.promise.catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.name).toBe("AbortError");
    expect(err.cause).toBe(reason);
    await holder.release();
    // The aborted waiter left the queue: the next acquire succeeds at once.
    const next = await acquireFileLock(path, { timeoutMs: 0 });
    await next.release();
  });

  it("rejects at once for a signal that is already aborted", async () => {
    const path = join(tempDir(), "pre.lock");
    const reason = new Error("already");
    const err = await acquireFileLock(path, { signal: AbortSignal.abort(reason) }).catch((e) => e);
    expect(err.name).toBe("AbortError");
    expect(err.cause).toBe(reason);
    expect(await readLockHolder(path)).toBeUndefined();
  });

  it("validates arguments synchronously", () => {
    expect(() => acquireFileLock(42 as any)).toThrow(TypeError);
    expect(() => acquireFileLock("x.lock", { mode: "write" as any })).toThrow(TypeError);
    expect(() => acquireFileLock("x.lock", { timeoutMs: -1 })).toThrow(RangeError);
    expect(() => acquireFileLock("x.lock", { signal: {} as any })).toThrow(TypeError);
    expect(() => acquireFileLock("x.lock", { holder: [] as any })).toThrow(TypeError);
    expect(() => acquireFileLock("x.lock", { holder: { pid: 1 } })).toThrow(/written by interlock/);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => acquireFileLock("x.lock", { holder: circular })).toThrow(TypeError);
    expect(() => withFileLock("x.lock", 1 as any)).toThrow(TypeError);
  });
});

describe("withFileLock", () => {
  it("runs fn under the lock and returns its value", async () => {
    const path = join(tempDir(), "with.lock");
    const value = await withFileLock(path, async (lock) => {
      expect(lock.held).toBe(true);
      expect(await tryAcquireFileLock(path)).toBeUndefined();
      return 42;
    });
    expect(value).toBe(42);
    const next = await tryAcquireFileLock(path);
    await next!.release();
  });

  it("releases when fn throws", async () => {
    const path = join(tempDir(), "with-throw.lock");
    await expect(
      withFileLock(path, () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const next = await tryAcquireFileLock(path);
    expect(next).toBeDefined();
    await next!.release();
  });
});

describe("holder record", () => {
  it("an exclusive holder writes {pid, hostname, processStartTime, acquiredAt, ...holder} as JSON", async () => {
    const path = join(tempDir(), "record.lock");
    const before = Date.now();
    const lock = await acquireFileLock(path, { holder: { purpose: "deploy", ticket: 7 } });
    const raw = JSON.parse(readFileSync(path, "utf8"));
    expect(raw).toMatchObject({ pid: process.pid, purpose: "deploy", ticket: 7 });
    expect(typeof raw.hostname).toBe("string");
    expect(raw.acquiredAt).toBeGreaterThanOrEqual(before);
    expect(raw.acquiredAt).toBeLessThanOrEqual(Date.now());
    if (process.platform === "linux") expect(typeof raw.processStartTime).toBe("number");
    expect(await readLockHolder(path)).toEqual(raw);
    await lock.release();
  });

  it("shared holders write no record, only their token", async () => {
    const path = join(tempDir(), "shared-record.lock");
    const lock = await acquireFileLock(path, { mode: "shared", holder: { purpose: "read" } });
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ token: lock.token });
    expect(await readLockHolder(path)).toBeUndefined();
    await lock.release();
  });

  it("a shorter record replaces a longer one without leaving its tail", async () => {
    const path = join(tempDir(), "shrink.lock");
    const long = await acquireFileLock(path, { holder: { purpose: "x".repeat(200) } });
    await long.release();
    const short = await acquireFileLock(path, { holder: { purpose: "y" } });
    expect(JSON.parse(readFileSync(path, "utf8")).purpose).toBe("y");
    expect((await readLockHolder(path))?.purpose).toBe("y");
    await short.release();
  });
});
