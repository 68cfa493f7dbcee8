import { InterlockError, LockLostError } from "../errors.js";

/**
 * Why a held PostgreSQL lock was lost:
 * - `"connection-ended"`: the lock's connection closed or failed (the server was
 *   stopped or restarted, `pg_terminate_backend`, a network error, the server's
 *   `idle_session_timeout` lease ran out): the server released the lock with it.
 * - `"heartbeat-failed"`: a heartbeat on the lock's connection failed or did not answer
 *   in time; the connection was closed so that the server releases the lock.
 * - `"lease-expired"`: the local lease deadline passed without a successful heartbeat
 *   (the process was paused, or its event loop blocked): the server may already have
 *   ended the session and granted the lock to someone else.
 * - `"not-held"`: the server said this connection did not hold the lock at release.
 * - `"closed"`: the backend was closed with the lock still held.
 */
export type LockLostReason =
  | "connection-ended"
  | "heartbeat-failed"
  | "lease-expired"
  | "not-held"
  | "closed";

/**
 * A PostgreSQL lock stopped being held before its holder released it: the same
 * {@link LockLostError} class as file locks throw (one class, one `code`, `ELOCKLOST`),
 * with `reason` one of {@link LockLostReason}, `lock` the lock's name and `token` the
 * fencing token of the lost grant. It is the reason of the handle's `signal`, what
 * `assertHeld()` throws and what `release()` rejects with afterwards.
 */
export function lockLost(
  lockName: string,
  token: number,
  reason: LockLostReason,
  detail: string,
  options?: ErrorOptions,
): LockLostError {
  return new LockLostError(
    reason,
    lockName,
    `Lost the PostgreSQL lock ${JSON.stringify(lockName)} (token ${token}): ${detail}`,
    { ...options, token },
  );
}

export { LockLostError };

/**
 * A fenced write was refused because a newer fencing token has already written: the
 * writer's lock was lost (lease expired while it was paused, connection dropped) and
 * someone else took it since. Nothing was written and `fn` was not called.
 *
 * @example
 * ```ts
 * try {
 *   await state.update((s) => ({ ...s, step: s.step + 1 }), { fence: lock.token });
 * } catch (err) {
 *   if (err instanceof StaleFenceError) return; // someone newer owns this work now
 *   throw err;
 * }
 * ```
 */
export class StaleFenceError extends InterlockError {
  declare readonly code: "ESTALEFENCE";
  /** The token the write carried. */
  readonly token: number;
  /** The newest token that has written. */
  readonly newest: number;
  /** The state key. */
  readonly key: string;

  constructor(key: string, token: number, newest: number, options?: ErrorOptions) {
    super(
      "ESTALEFENCE",
      `Refused the write to state ${JSON.stringify(key)} fenced with token ${token}: token ${newest} has written since, so this writer's lock was lost and someone else holds it now`,
      options,
    );
    this.token = token;
    this.newest = newest;
    this.key = key;
  }
}

/**
 * Codes of {@link PostgresConnectionError}:
 * - `"EPGPOOLER"`: the connection goes through a transaction-mode pooler (pgBouncer
 *   `pool_mode=transaction`, and the like). Session advisory locks would stay on a
 *   server connection that other clients then use: interlock refuses to start.
 * - `"EPGVERSION"`: the server is older than PostgreSQL 14 (no `idle_session_timeout`,
 *   which bounds a paused holder's lease on the server).
 * - `"EPGSCHEMA"`: the schema was created by a newer interlock than this one.
 * - `"EPGCLOSED"`: the backend was closed; nothing more can be done with it.
 */
export type PostgresConnectionErrorCode = "EPGPOOLER" | "EPGVERSION" | "EPGSCHEMA" | "EPGCLOSED";

/**
 * The PostgreSQL backend cannot (or can no longer) work over this connection; see
 * {@link PostgresConnectionErrorCode}. Driver and server errors (authentication,
 * network, SQL) are rethrown as they come from `pg`.
 *
 * @example
 * ```ts
 * try {
 *   backend = await connectPostgres({ connectionString: process.env.DATABASE_URL! });
 * } catch (err) {
 *   if (err instanceof PostgresConnectionError && err.code === "EPGPOOLER") {
 *     console.error("point interlock at the database directly, or at a session-mode pool");
 *   }
 *   throw err;
 * }
 * ```
 */
export class PostgresConnectionError extends InterlockError {
  declare readonly code: PostgresConnectionErrorCode;

  constructor(code: PostgresConnectionErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/**
 * `validate` rejected the state an update produced (returned `false`); nothing was
 * written.
 *
 * @example
 * ```ts
 * const store = backend.stateStore("limits", { defaults: { max: 4 }, validate: (s) => s.max > 0 });
 * await store.update((s) => ({ max: 0 })).catch((err) => {
 *   if (err instanceof StateInvalidError) console.error(err.message);
 * });
 * ```
 */
export class StateInvalidError extends InterlockError {
  declare readonly code: "ESTATEINVALID";
  /** The state key. */
  readonly key: string;

  constructor(key: string, options?: ErrorOptions) {
    super(
      "ESTATEINVALID",
      `The new state for ${JSON.stringify(key)} did not pass \`validate\`; nothing was written`,
      options,
    );
    this.key = key;
  }
}
