import { InterlockError, LockLostError } from "../errors.js";
import type { Releaser } from "../internal/permit.js";
import { type Entry, leave } from "./entry.js";
import { releaseExclusive, releaseShared, type Stamp } from "./kernel.js";
import type { FsExt } from "./load-fs-ext.js";
import { stillNamed } from "./lock-file.js";

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
 * A held file lock. `release()` gives it back; idempotent; works with `await using`.
 *
 * @example
 * ```ts
 * await using lock = await acquireFileLock(file);
 * console.log(lock.path, lock.mode, lock.token); // "/abs/path/to/file" "exclusive" 42
 * lock.assertHeld(); // throws LockLostError if the lock file was deleted or replaced
 * ```
 */
export interface FileLockHandle extends AsyncDisposable {
  /** Absolute path of the lock file. */
  readonly path: string;
  readonly mode: FileLockMode;
  /** Whether this handle still holds the lock (not released). */
  readonly held: boolean;
  /**
   * The fencing token of this grant: strictly greater than the token of every earlier
   * grant of this lock file, in any process, across restarts (it is kept in the lock
   * file and written under the lock). Pass it to a store that rejects writes carrying
   * a smaller token than one it has seen, and a holder that lost the lock (paused, or
   * its lock file deleted) cannot overwrite the work of the next one.
   * @throws {InterlockError} `ENOTOKEN` when the lock file holds content interlock did not
   *   write (you locked a data file): no token can be kept there. Lock a dedicated file.
   */
  readonly token: number;
  /**
   * Whether the lock is still this handle's: not released, and the path still names
   * the file that was locked. Deleting or replacing a held lock file lets a second
   * holder in, on the new file; nobody can prevent that, but the holder can notice.
   * One `lstat`, a few microseconds.
   */
  verify(): boolean;
  /**
   * As {@link verify}, but throws: call it before a write that must not happen without
   * the lock (StateFile does, before it commits).
   * @throws {LockLostError} `ELOCKLOST` with `reason` `"released"` or `"replaced"`.
   */
  assertHeld(): void;
  /** Gives the lock back. Idempotent; never affects a later holder. */
  release(): Promise<void>;
}

const DONE: Promise<void> = Promise.resolve();

export class FileLock implements FileLockHandle {
  #fsx: FsExt;
  #entry: Entry;
  #local: Releaser | null;
  #stamp: Stamp;

  constructor(
    readonly path: string,
    readonly mode: FileLockMode,
    fsx: FsExt,
    entry: Entry,
    localLock: Releaser,
    stamp: Stamp,
  ) {
    this.#fsx = fsx;
    this.#entry = entry;
    this.#local = localLock;
    this.#stamp = stamp;
  }

  get held(): boolean {
    return this.#local !== null;
  }

  get token(): number {
    const token = this.#stamp.token;
    if (token === undefined) {
      throw new InterlockError(
        "ENOTOKEN",
        `${this.path} holds content interlock did not write, so no fencing token can be kept in it; lock a dedicated file (e.g. ${this.path}.lock)`,
      );
    }
    return token;
  }

  verify(): boolean {
    const file = this.#entry.file;
    return this.#local !== null && file !== undefined && stillNamed(this.path, file);
  }

  assertHeld(): void {
    if (this.#local === null) throw new LockLostError("released", this.path);
    if (!this.verify()) throw new LockLostError("replaced", this.path);
  }

  release(): Promise<void> {
    const localLock = this.#local;
    if (localLock === null) return DONE;
    this.#local = null;
    try {
      if (this.mode === "exclusive") releaseExclusive(this.#fsx, this.#entry, this.#stamp);
      else releaseShared(this.#fsx, this.#entry);
    } catch (err) {
      return Promise.reject(err);
    } finally {
      leave(this.#entry);
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
