// The public API, listed explicitly. No logic lives here.

export {
  AtomicWriteError,
  type AtomicWriteErrorCode,
  StateFile,
  StateFileCorruptError,
  StateFileInvalidError,
  type StateFileOptions,
  type SweepOptions,
  sweepTempFiles,
  type UpdateOptions,
  type WriteFileAtomicOptions,
  writeFileAtomic,
} from "./atomic/index.js";
export { AbortError, InterlockError, LockTimeoutError } from "./errors.js";
export {
  acquireFileLock,
  type FileLockHandle,
  type FileLockMode,
  type FileLockOptions,
  FileLockPathError,
  type FileLockPathErrorCode,
  FileLockUnavailableError,
  type LockHolder,
  readLockHolder,
  type TryFileLockOptions,
  tryAcquireFileLock,
  withFileLock,
} from "./file-lock/index.js";
export {
  type AdvanceRefOptions,
  type AdvanceRefResult,
  advanceRef,
  type BuildContext,
  GitError,
  type GitErrorCode,
  type GitFailure,
  GitHookError,
  GitMissingError,
  NotAGitRepoError,
  ObjectMissingError,
  type ReadRefOptions,
  RefConflictError,
  RefExistsError,
  RefLockedError,
  RefNameError,
  RefNotFoundError,
  type RefUpdate,
  readRef,
  type UpdateRefOptions,
  type UpdateRefsOptions,
  updateRef,
  updateRefs,
} from "./git/index.js";
export {
  FileRegistry,
  type FileRegistryOptions,
  IdAllocator,
  type IdAllocatorOptions,
  type IdFormat,
  IdsExhaustedError,
  IdTakenError,
  type PendingEntry,
  type ReclaimOptions,
  type Registry,
  type RegistryEntry,
  RegistryFormatError,
  type RegistryOwner,
  type Reservation,
  ReservationLostError,
  type ReserveOptions,
  SlotAllocator,
  type SlotAllocatorOptions,
  type TakenStatus,
} from "./ids/index.js";
export type { AcquireOptions } from "./internal/options.js";
export type { Releaser } from "./internal/permit.js";
export type { WriteReleaser } from "./internal/rw-handles.js";
export { KeyedMutex } from "./keyed-mutex.js";
export { KeyedRWLock } from "./keyed-rw-lock.js";
export {
  type Lock,
  type LockGrantedCallback,
  type LockInfo,
  LockManager,
  type LockManagerLike,
  type LockManagerOptions,
  type LockManagerSnapshot,
  type LockMode,
  type LockRequestOptions,
  LockStealError,
  NotSupportedError,
} from "./locks/index.js";
export { Mutex } from "./mutex.js";
export { isProcessAlive, processStartTime } from "./process/index.js";
export { RWLock } from "./rw-lock.js";
export { Semaphore, type SemaphoreAcquireOptions } from "./semaphore.js";
