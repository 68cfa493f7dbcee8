// `interlock/postgres`: the PostgreSQL backend. A separate entry point, so that users of
// the local primitives never load a database driver. No logic lives here.

export { LockStealError, NotSupportedError } from "../locks/errors.js";
export type {
  LockInfo,
  LockManagerLike,
  LockManagerSnapshot,
  LockMode,
  LockRequestOptions,
} from "../locks/types.js";
export { connectPostgres, type PostgresBackendOptions } from "./connect-postgres.js";
export {
  LockLostError,
  type LockLostReason,
  PostgresConnectionError,
  type PostgresConnectionErrorCode,
  StaleFenceError,
  StateInvalidError,
} from "./errors.js";
export type { RemoteLockHolder } from "./holder-record.js";
export { PostgresLockManager } from "./lock-manager.js";
export type { PostgresLock } from "./lock-manager-request.js";
export {
  PostgresBackend,
  type RemoteLockOptions,
  type TryRemoteLockOptions,
} from "./postgres-backend.js";
export { PostgresRegistry, type PostgresRegistryOptions } from "./registry.js";
export type { RegistryIdFormat } from "./registry-naming.js";
export {
  IdsExhaustedError,
  IdTakenError,
  type PendingEntry,
  type ReclaimOptions,
  type Registry,
  type RegistryEntry,
  type RegistryOwner,
  ReservationLostError,
  type ReserveOptions,
  type TakenStatus,
} from "./registry-types.js";
export type { RemoteLockHandle, RemoteLockMode } from "./remote-lock.js";
export {
  PostgresStateStore,
  type StateStoreOptions,
  type StateUpdateOptions,
} from "./state-store.js";
