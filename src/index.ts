// The public API, listed explicitly. No logic lives here.
export { AbortError, InterlockError, LockTimeoutError } from "./errors.js";
export type { AcquireOptions } from "./internal/options.js";
export type { Releaser } from "./internal/permit.js";
export type { WriteReleaser } from "./internal/rw-handles.js";
export { KeyedMutex } from "./keyed-mutex.js";
export { KeyedRWLock } from "./keyed-rw-lock.js";
export { Mutex } from "./mutex.js";
export { RWLock } from "./rw-lock.js";
export { Semaphore, type SemaphoreAcquireOptions } from "./semaphore.js";
