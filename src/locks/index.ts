// Named locks across processes with the Web Locks API's shape. The front of src/locks/:
// everything public is re-exported from here; the other files are internals.
export { LockStealError, NotSupportedError } from "./errors.js";
export { LockManager, type LockManagerOptions } from "./lock-manager.js";
export type {
  Lock,
  LockGrantedCallback,
  LockInfo,
  LockManagerLike,
  LockManagerSnapshot,
  LockMode,
  LockRequestOptions,
} from "./types.js";
