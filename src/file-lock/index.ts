// Cross-process file locks on flock(2). The front of src/file-lock/: everything public
// is re-exported from here; the other files are internals.
export {
  acquireFileLock,
  type FileLockHandle,
  type FileLockMode,
  type FileLockOptions,
  type TryFileLockOptions,
  tryAcquireFileLock,
  withFileLock,
} from "./acquire-file-lock.js";
export {
  FileLockPathError,
  type FileLockPathErrorCode,
  FileLockUnavailableError,
} from "./errors.js";
export type { LockHolder } from "./holder-record.js";
export { readLockHolder } from "./read-lock-holder.js";
