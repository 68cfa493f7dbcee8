import { closeSync } from "node:fs";
import { resolve } from "node:path";
import { describe } from "../internal/describe.js";
import { FileLockPathError } from "./errors.js";
import { currentRecord, type LockHolder } from "./holder-record.js";
import { loadFsExt } from "./load-fs-ext.js";
import { openLockFileReadOnly } from "./lock-file.js";

/**
 * Who holds the exclusive lock on `path`: the holder record it wrote, parsed as JSON;
 * `undefined` when nobody holds it exclusively, or the holder left no valid record.
 *
 * **Guarantee:** a returned record belongs to the process that held the lock at the
 * moment of the check (it may have released since); the record of a holder that
 * released, or died, is never returned: the lock is probed with a non-blocking shared
 * `flock` first (it succeeds only when no exclusive holder exists), a release marks its
 * record released (the file's mtime set to a 1970 marker), and a record of this host
 * whose process is gone (PID not running, or running with another start time) is
 * treated as invalid.
 *
 * Never creates the file, never writes. The probe holds a shared lock for a few
 * microseconds; an exclusive `tryAcquireFileLock` racing it in that instant may be
 * told "busy".
 *
 * **Platform notes:** as {@link acquireFileLock}. Shared holders and programs that lock
 * the file without interlock (e.g. `flock(1)`) write no record: `undefined`.
 *
 * @param path The lock file.
 * @throws {FileLockPathError} `EFLOCKPATH` for an empty path (synchronously) or a
 *   symlink, `EFLOCKISDIR` for a directory, `EFLOCKACCES` when it cannot be read.
 * @throws {FileLockUnavailableError} (rejection) if fs-ext cannot be loaded.
 *
 * @example
 * ```ts
 * const holder = await readLockHolder("/tmp/deploy.lock");
 * if (holder) {
 *   const since = ((Date.now() - holder.acquiredAt) / 1000).toFixed(0);
 *   console.log(`pid ${holder.pid} on ${holder.hostname} (${holder.purpose}), for ${since} s`);
 * }
 * ```
 */
export function readLockHolder(path: string): Promise<LockHolder | undefined> {
  if (typeof path !== "string") {
    throw new TypeError(`Expected \`path\` to be a string, got ${describe(path)}`);
  }
  if (path === "") {
    throw new FileLockPathError("EFLOCKPATH", path, "Cannot read the holder of an empty path");
  }
  return read(resolve(path));
}

async function read(path: string): Promise<LockHolder | undefined> {
  const fsx = loadFsExt();
  const file = openLockFileReadOnly(path);
  if (file === undefined) return undefined;
  try {
    try {
      fsx.flockSync(file.fd, "shnb");
      // Nobody holds it exclusively; closing below drops our probe.
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "EAGAIN" && code !== "EWOULDBLOCK") throw err;
    }
    return currentRecord(file.fd);
  } finally {
    closeSync(file.fd);
  }
}
