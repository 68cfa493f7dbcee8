// The statements of the lock path, each one round trip, prepared once per session.
//
// A grant is one statement: wait in the server's FIFO queue (pg_advisory_lock[_shared]),
// then take the fencing token with nextval(), in that order: `OFFSET 0` keeps the
// subquery from being flattened into its parent, so the lock is evaluated first. A wait
// that times out or is cancelled never reaches nextval(). With a timeout, an innermost
// subquery sets this statement's lock_timeout before the wait.
//
// Nothing else happens on the grant path: the holder record (token, since when, the
// `holder` fields) is written by a separate statement only when a hold outlives
// RECORD_AFTER_MS, and cleared by the unlock statement only if it was written. A
// per-grant write would cost about a fifth of a bare lock/unlock pair.
import type pg from "pg";
import { storedName } from "./keys.js";
import type { RemoteLockMode } from "./remote-lock.js";

/** A hold that lasts longer than this gets a holder record, for readLockHolder. */
export const RECORD_AFTER_MS = 25;

export interface LockStatements {
  lock(mode: RemoteLockMode, key: string, timeLeftMs: number): pg.QueryConfig;
  tryLock(mode: RemoteLockMode, key: string): pg.QueryConfig;
  join(key: string): pg.QueryConfig;
  unlock(mode: RemoteLockMode, key: string, clearRecord: boolean): pg.QueryConfig;
  record(
    key: string,
    name: string,
    mode: RemoteLockMode,
    token: number,
    holder: string | null,
    heldForMs: number,
    request: number | undefined,
  ): pg.QueryConfig;
  /**
   * Makes sure this session has its row in the holders table, naming its client, and
   * drops what an earlier session with the same backend pid left behind.
   */
  register(
    host: string,
    pid: number,
    startTime: number | undefined,
    client: string,
  ): pg.QueryConfig;
  /**
   * Clears this session's record (a LockManager waiter's, or a departed holder's); with
   * `unlockAll`, also gives back every advisory lock the session holds.
   */
  clearRecord(unlockAll?: boolean): pg.QueryConfig;
}

const MAX_LOCK_TIMEOUT = 2 ** 31 - 1;

export function lockStatements(schema: string): LockStatements {
  const s = `"${schema}"`;
  const fn = { exclusive: "pg_advisory_lock", shared: "pg_advisory_lock_shared" };
  const tryFn = { exclusive: "pg_try_advisory_lock", shared: "pg_try_advisory_lock_shared" };
  const unlockFn = { exclusive: "pg_advisory_unlock", shared: "pg_advisory_unlock_shared" };
  const token = `nextval('${s}.fence')`;
  const text = (mode: RemoteLockMode) => ({
    lock: `SELECT ${token} AS token FROM (SELECT ${fn[mode]}($1::bigint) OFFSET 0) l`,
    lockWithTimeout: `SELECT ${token} AS token FROM (
      SELECT ${fn[mode]}($1::bigint) FROM (SELECT set_config('lock_timeout', $2, true) OFFSET 0) c OFFSET 0) l`,
    tryLock: `SELECT CASE WHEN ${tryFn[mode]}($1::bigint) THEN ${token} END AS token`,
    unlock: `SELECT ${unlockFn[mode]}($1::bigint) AS ok`,
    unlockAndClear: `WITH c AS (UPDATE ${s}.holders SET lock_key = NULL WHERE backend_pid = pg_backend_pid())
      SELECT ${unlockFn[mode]}($1::bigint) AS ok`,
  });
  const texts = { exclusive: text("exclusive"), shared: text("shared") };
  // Joining this session's shared hold is a re-entrant no-op for the server, so it is
  // done only while nobody waits for the key: otherwise our new reader would overtake
  // that waiter.
  const joinText = `SELECT CASE WHEN NOT EXISTS (
      SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((classid::bigint << 32) | objid::bigint) = $1::bigint)
    THEN ${token} END AS token`;
  return {
    lock: (mode, key, timeLeftMs) =>
      Number.isFinite(timeLeftMs)
        ? {
            name: `interlock_lock_${mode}_t`,
            text: texts[mode].lockWithTimeout,
            // lock_timeout is an int of milliseconds; 0 would mean no limit.
            values: [key, String(Math.min(MAX_LOCK_TIMEOUT, Math.max(1, Math.ceil(timeLeftMs))))],
          }
        : { name: `interlock_lock_${mode}`, text: texts[mode].lock, values: [key] },
    tryLock: (mode, key) => ({
      name: `interlock_try_${mode}`,
      text: texts[mode].tryLock,
      values: [key],
    }),
    join: (key) => ({ name: "interlock_join", text: joinText, values: [key] }),
    unlock: (mode, key, clearRecord) =>
      clearRecord
        ? { name: `interlock_unlock_${mode}_c`, text: texts[mode].unlockAndClear, values: [key] }
        : { name: `interlock_unlock_${mode}`, text: texts[mode].unlock, values: [key] },
    record: (key, name, mode, tokenValue, holder, heldForMs, request) => ({
      name: "interlock_record",
      text: `UPDATE ${s}.holders SET lock_key = $1::bigint, name = $2, mode = $3, token = $4::bigint,
          holder = $5::jsonb, acquired_at = now() - make_interval(secs => $6::float8 / 1000), request = $7::bigint
        WHERE backend_pid = pg_backend_pid()`,
      values: [key, storedName(name), mode, String(tokenValue), holder, heldForMs, request ?? null],
    }),
    register: (host, pid, startTime, client) => ({
      text: `WITH gone AS (DELETE FROM ${s}.lock_requests WHERE backend_pid = pg_backend_pid())
        INSERT INTO ${s}.holders (backend_pid, host, pid, start_time, client) VALUES (pg_backend_pid(), $1, $2, $3, $4)
        ON CONFLICT (backend_pid) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,
          start_time = EXCLUDED.start_time, client = EXCLUDED.client, lock_key = NULL, name = NULL,
          token = NULL, holder = NULL, request = NULL`,
      values: [host, pid, startTime ?? null, client],
    }),
    clearRecord: (unlockAll = false) =>
      unlockAll
        ? {
            name: "interlock_clear_record_unlock",
            text: `WITH c AS (UPDATE ${s}.holders SET lock_key = NULL, request = NULL, token = NULL
                WHERE backend_pid = pg_backend_pid())
              SELECT pg_advisory_unlock_all()`,
          }
        : {
            name: "interlock_clear_record",
            text: `UPDATE ${s}.holders SET lock_key = NULL, request = NULL, token = NULL WHERE backend_pid = pg_backend_pid()`,
          },
  };
}
