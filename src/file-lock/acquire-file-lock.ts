import { closeSync } from "node:fs";
import { resolve } from "node:path";
import { AbortError, hasCode, LockTimeoutError } from "../errors.js";
import { type AcquireOptions, validateOptions } from "../internal/options.js";
import type { Releaser } from "../internal/permit.js";
import { processWide } from "../internal/process-state.js";
import { KeyedRWLock } from "../keyed-rw-lock.js";
import { BACKOFF, jitter, nextUpper, sleep } from "./backoff.js";
import { FileLockPathError } from "./errors.js";
import {
  describeRecord,
  isLiveRecord,
  parseRecord,
  readContent,
  serializeHolder,
  writeRecord,
} from "./holder-record.js";
import { type FsExt, loadFsExt } from "./load-fs-ext.js";
import { type OpenLockFile, openLockFile, openLockFileReadOnly, stillNamed } from "./lock-file.js";

/**
 * `"exclusive"` (the default): one holder. `"shared"`: any number of shared holders,
 * and no exclusive one.
 *
 * @example
 * ```ts
 * const mode: FileLockMode = readOnly ? "shared" : "exclusive";
 * await using _ = await acquireFileLock(lockPath, { mode });
 * ```
 */
export type FileLockMode = "exclusive" | "shared";

/**
 * Options of {@link acquireFileLock}: the common `signal` and `timeoutMs`, plus:
 * - `mode`: `"exclusive"` (default) or `"shared"`.
 * - `holder`: extra JSON fields for the holder record an exclusive holder writes
 *   (e.g. `{ purpose: "deploy", command: process.argv.join(" ") }`). A string
 *   `purpose` appears in other processes' timeout messages. Shared holders write no
 *   record, so it is ignored for them.
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

/**
 * A held file lock. It owns one file descriptor; `release()` closes it, which is what
 * gives the lock back. Idempotent; works with `await using`.
 *
 * @example
 * ```ts
 * await using lock = await acquireFileLock(file);
 * console.log(lock.path, lock.mode); // "/abs/path/to/file" "exclusive"
 * ```
 */
export interface FileLockHandle extends AsyncDisposable {
  /** Absolute path of the lock file. */
  readonly path: string;
  readonly mode: FileLockMode;
  /** Whether this handle still holds the lock. */
  readonly held: boolean;
  /** Gives the lock back by closing the descriptor. Idempotent; never affects a later holder. */
  release(): Promise<void>;
}

// Every acquire of one path in this process queues here first, so only the head of
// the queue (the readers at its head, in shared mode) touches the kernel, and in-process
// order is FIFO. Keyed by the absolute path; two spellings of one file through a
// symlinked directory get two queues, and still exclude each other in the kernel,
// because flock locks of two descriptors conflict even within one process. One queue
// per process, even with both builds of interlock loaded (see process-state.ts).
const local = processWide("fileLockQueue", () => new KeyedRWLock<string>());

const DONE: Promise<void> = Promise.resolve();

class FileLock implements FileLockHandle {
  #fd: number;
  #local: Releaser | null;

  constructor(
    readonly path: string,
    readonly mode: FileLockMode,
    fd: number,
    localLock: Releaser,
  ) {
    this.#fd = fd;
    this.#local = localLock;
  }

  get held(): boolean {
    return this.#local !== null;
  }

  release(): Promise<void> {
    const localLock = this.#local;
    if (localLock === null) return DONE;
    this.#local = null;
    // The record stays in the file: readers probe the lock before believing it, and
    // clearing it would cost a truncate per release (most of a release's time).
    try {
      closeSync(this.#fd);
    } catch (err) {
      return Promise.reject(err);
    } finally {
      // Kernel lock first, then the in-process queue: the next local waiter must find
      // the file unlocked.
      localLock.release();
    }
    return DONE;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

interface Request {
  path: string;
  exclusive: boolean;
  holder: string;
}

function prepare(path: unknown, options: FileLockOptions | undefined): Request {
  if (typeof path !== "string") {
    throw new TypeError(`Expected \`path\` to be a string, got ${typeof path}`);
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
  let exclusive = true;
  let holder = "";
  if (options !== undefined) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Expected `options` to be an object");
    }
    const { mode } = options;
    if (mode !== undefined && mode !== "exclusive" && mode !== "shared") {
      throw new TypeError(`Expected \`mode\` to be "exclusive" or "shared", got ${String(mode)}`);
    }
    exclusive = mode !== "shared";
    holder = serializeHolder(options.holder);
  }
  return { path: resolve(path), exclusive, holder };
}

/** Locks `fd` without waiting. `false` when another open file description holds it. */
function tryFlock(fsx: FsExt, fd: number, flags: "exnb" | "shnb"): boolean {
  for (;;) {
    try {
      fsx.flockSync(fd, flags);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EAGAIN" || code === "EWOULDBLOCK") return false;
      if (code !== "EINTR") throw err;
    }
  }
}

const BUSY = 0;
const LOCKED = 1;
/** The path no longer names the inode we locked: reopen and try again at once. */
const REPLACED = 2;

/**
 * One attempt on an open lock file: lock without waiting, check that the path still
 * names the locked inode, write the holder record (exclusive only).
 */
function attempt(fsx: FsExt, file: OpenLockFile, r: Request): number {
  if (!tryFlock(fsx, file.fd, r.exclusive ? "exnb" : "shnb")) return BUSY;
  const now = stillNamed(r.path, file.stat);
  if (now === undefined) return REPLACED;
  if (r.exclusive) writeRecord(file.fd, Number(now.size), r.holder);
  return LOCKED;
}

function mode(r: Request): FileLockMode {
  return r.exclusive ? "exclusive" : "shared";
}

/**
 * "held by pid 1234 (deploy) for 12.3 s" for a timeout message: from the in-process
 * queue if the holder is this process, else from the record in the file, once a probe
 * has shown that the holder is exclusive (a free or shared-held file keeps the record
 * of its last exclusive holder).
 */
function describeHolder(fsx: FsExt, r: Request): string {
  if (local.readers(r.path) > 0) {
    return `held in shared mode by this process (pid ${process.pid})`;
  }
  let file: OpenLockFile | undefined;
  try {
    file = openLockFileReadOnly(r.path);
    if (file !== undefined) {
      if (tryFlock(fsx, file.fd, "shnb")) {
        // No exclusive holder. Shared ones, or nobody any more?
        return tryFlock(fsx, file.fd, "exnb")
          ? "released just as the wait gave up"
          : "held in shared mode by other processes";
      }
      const content = readContent(file.fd);
      const record = content === undefined ? undefined : parseRecord(content);
      if (record !== undefined && isLiveRecord(record)) return `held by ${describeRecord(record)}`;
    }
  } catch {
    // The message is a courtesy; the timeout is the error.
  } finally {
    if (file !== undefined) closeSync(file.fd);
  }
  return "held by a process that left no holder record (flock users other than interlock write none)";
}

function timeoutError(fsx: FsExt, r: Request, timeoutMs: number): LockTimeoutError {
  return new LockTimeoutError(
    timeoutMs,
    `Timed out after ${timeoutMs} ms waiting for the ${mode(r)} file lock ${r.path}: ${describeHolder(fsx, r)}`,
  );
}

function localTry(r: Request): Releaser | undefined {
  return r.exclusive ? local.tryWriteLock(r.path) : local.tryReadLock(r.path);
}

/**
 * Locks the kernel side for a caller that holds the in-process lock, without waiting.
 * Resolves the handle, or `undefined` when another process holds the file, in which case
 * the open file is handed back through `pending` for the caller to wait on. Throws
 * after releasing everything.
 */
function lockNow(
  fsx: FsExt,
  r: Request,
  localLock: Releaser,
  pending: { file: OpenLockFile | undefined },
): FileLockHandle | undefined {
  let file: OpenLockFile | undefined;
  try {
    file = openLockFile(r.path);
    for (;;) {
      const state = attempt(fsx, file, r);
      if (state === LOCKED) return new FileLock(r.path, mode(r), file.fd, localLock);
      if (state === BUSY) {
        pending.file = file;
        return undefined;
      }
      // Deleted or replaced between our open and our lock: drop that inode and lock
      // what the path names now.
      closeSync(file.fd);
      file = undefined;
      file = openLockFile(r.path);
    }
  } catch (err) {
    if (file !== undefined) closeSync(file.fd);
    localLock.release();
    throw err;
  }
}

async function waitLocal(
  fsx: FsExt,
  r: Request,
  options: AcquireOptions | undefined,
  started: number,
): Promise<FileLockHandle> {
  const timeoutMs = options?.timeoutMs;
  let localLock: Releaser;
  try {
    localLock = await (r.exclusive
      ? local.writeLock(r.path, options)
      : local.readLock(r.path, options));
  } catch (err) {
    // By code, not class: the queue may belong to the other build (process-state.ts).
    if (hasCode(err, "ELOCKTIMEOUT")) throw timeoutError(fsx, r, timeoutMs!);
    throw err;
  }
  const signal = options?.signal;
  if (signal?.aborted) {
    localLock.release();
    throw new AbortError(signal.reason);
  }
  const pending: { file: OpenLockFile | undefined } = { file: undefined };
  const handle = lockNow(fsx, r, localLock, pending);
  if (handle !== undefined) return handle;
  return waitKernel(fsx, r, options, started, localLock, pending.file!);
}

/**
 * The head of the in-process queue waits for another process: non-blocking attempts
 * between backoff timers (see backoff.ts), on the descriptor it already has open.
 */
async function waitKernel(
  fsx: FsExt,
  r: Request,
  options: AcquireOptions | undefined,
  started: number,
  localLock: Releaser,
  busy: OpenLockFile,
): Promise<FileLockHandle> {
  const signal = options?.signal;
  const timeoutMs = options?.timeoutMs;
  let file: OpenLockFile | undefined = busy;
  try {
    let upper = BACKOFF.firstMs;
    const polling = performance.now();
    let replaced = 0;
    for (;;) {
      // After a replaced file, try the new one at once (a bounded number of times, so
      // a process replacing the file in a loop cannot keep us off the event loop).
      if (replaced === 0 || replaced > 8) {
        replaced = 0;
        let delay = jitter(upper);
        upper = nextUpper(upper, performance.now() - polling);
        if (timeoutMs !== undefined) {
          const left = timeoutMs - (performance.now() - started);
          if (left <= 0) throw timeoutError(fsx, r, timeoutMs);
          // Wake at the deadline for one last attempt rather than overshoot it.
          if (delay > left) delay = left;
        }
        await sleep(delay, signal);
        if (signal?.aborted) throw new AbortError(signal.reason);
      }
      const state = attempt(fsx, file, r);
      if (state === LOCKED) {
        const handle = new FileLock(r.path, mode(r), file.fd, localLock);
        file = undefined;
        return handle;
      }
      if (state === REPLACED) {
        closeSync(file.fd);
        file = undefined;
        file = openLockFile(r.path);
        replaced++;
        upper = BACKOFF.firstMs;
      } else {
        replaced = 0;
      }
    }
  } catch (err) {
    if (file !== undefined) closeSync(file.fd);
    localLock.release();
    throw err;
  }
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
 * - An exclusive holder writes a JSON holder record into the file through its own
 *   descriptor (`{pid, hostname, processStartTime, acquiredAt, ...holder}`), read by
 *   {@link readLockHolder} and named in other waiters' timeout messages. It stays in
 *   the file after release (readers probe the lock before believing it).
 * - After locking, the path is checked to still name the locked inode (`fstat` vs
 *   `lstat`); if the file was deleted or replaced meanwhile, that lock is dropped and the
 *   current file locked instead. interlock never deletes lock files: deleting one that
 *   another process is waiting on is how two holders end up on two inodes. They stay on
 *   disk, empty when free.
 * - The file is opened without following a symlink (`O_NOFOLLOW`), created with mode
 *   `0o666 & ~umask`. Content interlock did not write is never overwritten: lock a
 *   dedicated file (`config.json.lock`), not your data file.
 *
 * **Fairness:** acquirers of one path inside this process queue FIFO (by absolute
 * path) on an in-process {@link KeyedRWLock}; only the head of that queue (the readers
 * at the head, in shared mode) touches the kernel. Across processes there is no order:
 * the kernel gives the lock to whichever waiter asks first after a release, so a
 * process that releases and immediately re-acquires in a loop can starve others.
 *
 * **Cancellation:** `timeoutMs` and `signal` apply to the whole wait, both stages; a
 * waiter that gives up is never granted, keeps no descriptor open, and its rejection
 * comes within a few milliseconds of the signal. A timeout names the holder: "Timed
 * out after 5000 ms waiting for the exclusive file lock /x/deploy.lock: held by pid 1234
 * (deploy) for 12.3 s".
 *
 * **Waiting:** a waiter polls with non-blocking `flock` calls (about a microsecond each,
 * on the main thread) between jittered exponential backoff timers (about 1 ms at
 * first, capped at 2 ms while the wait is young and at 5 % of the time already waited
 * later, 100 ms at most), so waiting never occupies a libuv thread-pool thread: a
 * blocking `flock` on the pool would stall every `fs` call of the process once 4
 * waiters queue. The price is hand-off latency when another process releases (median
 * about 1 ms for short waits, in `bench/file-lock.bench.ts`).
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
 * @returns A {@link FileLockHandle} that owns the descriptor.
 * @throws {TypeError} synchronously for a non-string path, a bad `mode`, a `holder`
 *   that is not a JSON object or redefines `pid`/`hostname`/`processStartTime`/`acquiredAt`.
 * @throws {RangeError} synchronously for a bad `timeoutMs`.
 * @throws {FileLockPathError} synchronously for an empty path (`EFLOCKPATH`); as a
 *   rejection for a directory (`EFLOCKISDIR`), a symlink or a non-file (`EFLOCKPATH`),
 *   no permission (`EFLOCKACCES`).
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
  const started = timeoutMs === undefined ? 0 : performance.now();
  // The uncontended path stays synchronous end to end: a handful of syscalls of a
  // microsecond or two each, no thread-pool round trips.
  const localLock = localTry(r);
  if (localLock === undefined) {
    if (timeoutMs === 0) return Promise.reject(timeoutError(fsx, r, 0));
    return waitLocal(fsx, r, options, started);
  }
  const pending: { file: OpenLockFile | undefined } = { file: undefined };
  let handle: FileLockHandle | undefined;
  try {
    handle = lockNow(fsx, r, localLock, pending);
  } catch (err) {
    return Promise.reject(err);
  }
  if (handle !== undefined) return Promise.resolve(handle);
  return waitKernel(fsx, r, options, started, localLock, pending.file!);
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
  return tryAcquire(r);
}

async function tryAcquire(r: Request): Promise<FileLockHandle | undefined> {
  const fsx = loadFsExt();
  const localLock = localTry(r);
  if (localLock === undefined) return undefined;
  const pending: { file: OpenLockFile | undefined } = { file: undefined };
  const handle = lockNow(fsx, r, localLock, pending);
  if (handle !== undefined) return handle;
  closeSync(pending.file!.fd);
  localLock.release();
  return undefined;
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
  if (typeof fn !== "function") throw new TypeError("Expected `fn` to be a function");
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
