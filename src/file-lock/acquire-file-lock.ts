import { resolve } from "node:path";
import { AbortError, hasCode } from "../errors.js";
import { describe } from "../internal/describe.js";
import { type AcquireOptions, validateOptions } from "../internal/options.js";
import type { Releaser } from "../internal/permit.js";
import { Acquisition, type Request } from "./acquisition.js";
import { type Entry, enter, leave } from "./entry.js";
import { FileLockPathError } from "./errors.js";
import type { FileLockHandle, FileLockMode } from "./file-lock-handle.js";
import { timeoutError } from "./holder-message.js";
import { serializeHolder } from "./holder-record.js";
import { type FsExt, loadFsExt } from "./load-fs-ext.js";

export type { FileLockHandle, FileLockMode } from "./file-lock-handle.js";

/**
 * Options of {@link acquireFileLock}: the common `signal` and `timeoutMs`, plus:
 * - `mode`: `"exclusive"` (default) or `"shared"`.
 * - `holder`: extra JSON fields for the holder record an exclusive holder writes
 *   (e.g. `{ purpose: "deploy", command: process.argv.join(" ") }`). A string
 *   `purpose` appears in other processes' timeout messages. Shared holders write no
 *   record (only their token), so it is ignored for them.
 *
 * @example
 * ```ts
 * const options: FileLockOptions = {
 *   mode: "exclusive",
 *   timeoutMs: 10_000,
 *   signal: AbortSignal.timeout(30_000),
 *   holder: { purpose: "nightly backup", user: os.userInfo().username },
 * };
 * ```
 */
export interface FileLockOptions extends AcquireOptions {
  mode?: FileLockMode | undefined;
  holder?: Record<string, unknown> | undefined;
}

/**
 * Options of {@link tryAcquireFileLock}: it never waits, so no `signal` or `timeoutMs`.
 *
 * @example
 * ```ts
 * const lock = await tryAcquireFileLock(lockPath, { mode: "shared" });
 * ```
 */
export type TryFileLockOptions = Pick<FileLockOptions, "mode" | "holder">;

function prepare(path: unknown, options: FileLockOptions | undefined): Request {
  if (typeof path !== "string") {
    throw new TypeError(`Expected \`path\` to be a string, got ${describe(path)}`);
  }
  if (path === "") {
    throw new FileLockPathError(
      "EFLOCKPATH",
      path,
      'Cannot lock an empty path; name the lock file, e.g. `path.join(dir, ".lock")`',
    );
  }
  if (path.includes("\0")) {
    throw new FileLockPathError("EFLOCKPATH", path, "Cannot lock a path that contains a NUL byte");
  }
  if (path.endsWith("/")) {
    throw new FileLockPathError(
      "EFLOCKPATH",
      path,
      `Cannot lock ${path}: the path ends with a slash, so it names a directory; name a file, e.g. ${path}.lock`,
    );
  }
  let exclusive = true;
  let holder = "";
  if (options !== undefined) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    const { mode } = options;
    if (mode !== undefined && mode !== "exclusive" && mode !== "shared") {
      throw new TypeError(`Expected \`mode\` to be "exclusive" or "shared", got ${describe(mode)}`);
    }
    exclusive = mode !== "shared";
    holder = serializeHolder(options.holder);
  }
  return { path: absolute(path), exclusive, holder };
}

// An absolute path with nothing to normalize is its own resolution: skipping
// path.resolve saves a microsecond on every uncontended acquire.
const NEEDS_RESOLVE = /\/\.{0,2}(\/|$)/;

function absolute(path: string): string {
  return path.charCodeAt(0) === 0x2f && !NEEDS_RESOLVE.test(path.slice(1)) ? path : resolve(path);
}

function localTry(r: Request, e: Entry): Releaser | undefined {
  return r.exclusive ? e.local.tryWriteLock() : e.local.tryReadLock();
}

/**
 * Takes a cross-process lock on the file at `path` with `flock(2)`, creating the file
 * and its parent directories if needed, and waits until it is free.
 *
 * **Guarantee:** while the returned handle is held, no other holder, in this process
 * or any other on the machine, holds an incompatible lock on the same file (exclusive
 * excludes everyone; shared excludes exclusive); and the lock ends when its holder
 * process ends, however it ends (SIGKILL included), with no staleness guessing.
 *
 * Semantics:
 * - An exclusive holder writes a JSON holder record into the file
 *   (`{token, pid, hostname, processStartTime, acquiredAt, ...holder}`), read by
 *   {@link readLockHolder} and named in other waiters' timeout messages. Its release
 *   marks the record released (the file's mtime set to a 1970 marker), so a released
 *   holder is never named.
 * - Every grant carries a fencing token ({@link FileLockHandle.token}), strictly greater
 *   than every earlier grant's token of this file, kept in the file across processes
 *   and restarts.
 * - After locking, the path is checked to still name the locked inode (`lstat`); if the
 *   file was deleted or replaced meanwhile, that lock is dropped and the current file
 *   locked instead. A holder can check the same later with
 *   {@link FileLockHandle.assertHeld}. interlock never deletes lock files: deleting one
 *   that another process holds or waits on is how two holders end up on two inodes.
 * - The file is opened without following a symlink (`O_NOFOLLOW`) and without blocking
 *   (`O_NONBLOCK`: a FIFO, socket or device at the path is refused at once with
 *   `EFLOCKPATH`), created with mode `0o666 & ~umask`, next to `<path>.gate`, the writer
 *   gate. Content interlock did not write is never overwritten: lock a dedicated file
 *   (`config.json.lock`), not your data file.
 *
 * **Fairness:** acquirers of one path inside this process queue FIFO (by absolute
 * path) on an in-process {@link RWLock}; only the head of that queue (the readers
 * at its head, in shared mode) touches the kernel. Across processes, writers are never
 * starved by readers: an exclusive request that finds the file busy holds the writer
 * gate while it waits, and no shared request of any process gets past the gate meanwhile,
 * so it waits at most for the shared holders already in. Among exclusive waiters of
 * different processes there is no order (the kernel grants whoever asks first).
 *
 * **Cancellation:** `timeoutMs` and `signal` apply to the whole wait, every stage; a
 * waiter that gives up is never granted, gives back the gate if it held it, and its
 * rejection comes within a few milliseconds of the signal. A timeout names the holder:
 * "Timed out after 5000 ms waiting for the exclusive file lock /x/deploy.lock: held by
 * pid 1234 (deploy) for 12.3 s".
 *
 * **Speed and waiting:** the uncontended path is synchronous: a handful of syscalls of a
 * microsecond or two each on the main thread (the descriptor stays open between
 * acquisitions, for a second after the last use and for at most 64 idle paths), no
 * thread-pool round trip. A waiter never parks a thread-pool thread in a blocking
 * `flock`: it watches the file (`fs.watch`: inotify, kqueue), every release writes or
 * touches it, and the waiter retries within a fraction of a millisecond; a slow poll
 * (non-blocking `flock` between jittered timers, up to 100 ms apart) is the safety net
 * for holders killed by SIGKILL and for file systems that report no changes.
 *
 * **Platform notes:**
 * - Linux, macOS, BSDs: `flock(2)`; locks belong to the open file description, so two
 *   handles in one process exclude each other like two processes do. Descriptors are
 *   close-on-exec: child processes never inherit (and prolong) the lock.
 * - Windows: fs-ext maps `flock` to `LockFileEx` on the first byte range, which also
 *   dies with the process and gives exclusive/shared semantics; but it is a mandatory
 *   lock (other processes' reads/writes of the locked range fail) and it is untested by
 *   interlock's suite. {@link processStartTime} is unsupported there.
 * - Network file systems: NFSv4 and recent Linux NFSv3 clients emulate `flock` with
 *   byte-range locks that the server holds on behalf of the client; a client that
 *   crashes or loses the server may keep or lose the lock until lease recovery
 *   (~90 s), and some servers answer `ENOLCK`. SMB/CIFS and FUSE mounts vary. Keep lock
 *   files on a local disk when you can.
 *
 * @param path The lock file. Resolved against the current directory.
 * @param options `mode`, `holder`, `timeoutMs`, `signal`.
 * @returns A {@link FileLockHandle}.
 * @throws {TypeError} synchronously for a non-string path, a bad `mode`, a `holder`
 *   that is not a JSON object or redefines `token`/`pid`/`hostname`/`processStartTime`/`acquiredAt`,
 *   options that are not an object.
 * @throws {RangeError} synchronously for a bad `timeoutMs`.
 * @throws {FileLockPathError} synchronously for an empty path or one ending in a slash
 *   (`EFLOCKPATH`); as a rejection for a directory (`EFLOCKISDIR`), a symlink, FIFO,
 *   socket or device (`EFLOCKPATH`), no permission (`EFLOCKACCES`, naming the owner
 *   when the file exists).
 * @throws {FileLockUnavailableError} (rejection) if fs-ext cannot be loaded.
 * @throws {LockTimeoutError} (rejection) when `timeoutMs` elapses; the message names the holder.
 * @throws {AbortError} (rejection) when `signal` aborts; `cause` is `signal.reason`.
 *
 * @example
 * ```ts
 * await using lock = await acquireFileLock(path.join(stateDir, "state.lock"), {
 *   timeoutMs: 10_000,
 *   holder: { purpose: "state update" },
 * });
 * const state = JSON.parse(await readFile(stateFile, "utf8")); // read inside the lock
 * await writeFileAtomic(stateFile, JSON.stringify(next(state)));
 * ```
 */
export function acquireFileLock(path: string, options?: FileLockOptions): Promise<FileLockHandle> {
  const r = prepare(path, options);
  if (options !== undefined) validateOptions(options);
  let fsx: FsExt;
  try {
    fsx = loadFsExt();
  } catch (err) {
    return Promise.reject(err);
  }
  const signal = options?.signal;
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
  const timeoutMs = options?.timeoutMs;
  const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
  const e = enter(r.path);
  const localLock = localTry(r, e);
  if (localLock === undefined) {
    if (timeoutMs === 0) {
      const err = timeoutError(fsx, r.path, r.exclusive, e.local.readers, "local", 0);
      leave(e);
      return Promise.reject(err);
    }
    return waitLocal(fsx, r, e, signal, deadline, timeoutMs);
  }
  return kernel(fsx, r, e, localLock, signal, deadline, timeoutMs);
}

/** The kernel side, synchronous when the file is free. */
function kernel(
  fsx: FsExt,
  r: Request,
  e: Entry,
  localLock: Releaser,
  signal: AbortSignal | undefined,
  deadline: number | undefined,
  timeoutMs: number | undefined,
): Promise<FileLockHandle> {
  const a = new Acquisition(fsx, r, e, localLock);
  let handle: FileLockHandle | undefined;
  try {
    handle = a.trySync(true);
  } catch (err) {
    return Promise.reject(err);
  }
  if (handle !== undefined) return Promise.resolve(handle);
  if (timeoutMs === 0) {
    const err = timeoutError(fsx, r.path, r.exclusive, e.local.readers, "main", 0);
    a.abandon();
    return Promise.reject(err);
  }
  return a.wait(signal, deadline, timeoutMs);
}

async function waitLocal(
  fsx: FsExt,
  r: Request,
  e: Entry,
  signal: AbortSignal | undefined,
  deadline: number | undefined,
  timeoutMs: number | undefined,
): Promise<FileLockHandle> {
  let localLock: Releaser;
  const waitOptions = { signal, timeoutMs };
  try {
    localLock = await (r.exclusive
      ? e.local.writeLock(waitOptions)
      : e.local.readLock(waitOptions));
  } catch (err) {
    const readers = e.local.readers;
    leave(e);
    // By code, not class: the queue may belong to the other build (process-state.ts).
    if (hasCode(err, "ELOCKTIMEOUT")) {
      throw timeoutError(fsx, r.path, r.exclusive, readers, "local", timeoutMs!);
    }
    throw err;
  }
  if (signal?.aborted) {
    localLock.release();
    leave(e);
    throw new AbortError(signal.reason);
  }
  return kernel(fsx, r, e, localLock, signal, deadline, timeoutMs);
}

/**
 * Takes the lock on `path` only if it is free right now, in this process (nobody
 * holding or queued) and in the kernel; resolves `undefined` otherwise. Never waits
 * for another holder.
 *
 * **Guarantee / Platform notes:** as {@link acquireFileLock}.
 *
 * **Fairness:** never jumps the in-process queue: if anyone in this process is queued
 * for the path, the answer is `undefined`.
 *
 * **Cancellation:** nothing to cancel: it never waits, so it takes no `signal` or
 * `timeoutMs`.
 *
 * @throws As {@link acquireFileLock}, except timeouts and aborts, which cannot happen.
 *
 * @example
 * ```ts
 * const lock = await tryAcquireFileLock(lockPath, { holder: { purpose: "nightly backup" } });
 * if (lock === undefined) {
 *   const h = await readLockHolder(lockPath);
 *   console.error(`already running${h ? ` as pid ${h.pid}` : ""}`);
 *   process.exit(1);
 * }
 * await using _ = lock;
 * ```
 */
export function tryAcquireFileLock(
  path: string,
  options?: TryFileLockOptions,
): Promise<FileLockHandle | undefined> {
  const r = prepare(path, options);
  let fsx: FsExt;
  try {
    fsx = loadFsExt();
  } catch (err) {
    return Promise.reject(err);
  }
  const e = enter(r.path);
  const localLock = localTry(r, e);
  if (localLock === undefined) {
    leave(e);
    return Promise.resolve(undefined);
  }
  const a = new Acquisition(fsx, r, e, localLock);
  let handle: FileLockHandle | undefined;
  try {
    handle = a.trySync(false);
  } catch (err) {
    return Promise.reject(err);
  }
  if (handle === undefined) a.abandon();
  return Promise.resolve(handle);
}

/**
 * Runs `fn` while holding the file lock on `path`, and releases it however `fn` ends.
 * `acquireFileLock` + `try { return await fn(lock) } finally { await lock.release() }`.
 *
 * **Guarantee / Fairness / Cancellation / Platform notes:** as {@link acquireFileLock};
 * `signal` and `timeoutMs` bound the wait, not `fn`.
 *
 * @example
 * ```ts
 * const count = await withFileLock(counterPath + ".lock", async () => {
 *   const n = Number(await readFile(counterPath, "utf8")) + 1;
 *   await writeFile(counterPath, String(n));
 *   return n;
 * }, { timeoutMs: 5_000 });
 * ```
 */
export function withFileLock<T>(
  path: string,
  fn: (lock: FileLockHandle) => T | PromiseLike<T>,
  options?: FileLockOptions,
): Promise<Awaited<T>> {
  if (typeof fn !== "function") {
    throw new TypeError(`Expected \`fn\` to be a function, got ${describe(fn)}`);
  }
  return runWithLock(acquireFileLock(path, options), fn);
}

async function runWithLock<T>(
  acquired: Promise<FileLockHandle>,
  fn: (lock: FileLockHandle) => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  const lock = await acquired;
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
