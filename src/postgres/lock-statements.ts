// The statements of the lock path, each one round trip, prepared once per session.
//
// A grant is one statement: set this statement's lock_timeout, wait in the server's
// FIFO queue (pg_advisory_lock[_shared]), take the fencing token with nextval() only
// once granted, and record the holder, in that order. `OFFSET 0` keeps each subquery
// from being flattened into its parent, so the order of evaluation is the nesting
// order. A wait that times out or is cancelled never reaches nextval().
import type pg from "pg";
import type { RemoteLockMode } from "./remote-lock.js";

export interface LockStatements {
  lock(
    mode: RemoteLockMode,
    key: string,
    name: string,
    holder: string | null,
    timeLeftMs: number,
  ): pg.QueryConfig;
  tryLock(mode: RemoteLockMode, key: string, name: string, holder: string | null): pg.QueryConfig;
  join(key: string, name: string, holder: string | null): pg.QueryConfig;
  unlock(mode: RemoteLockMode, key: string): pg.QueryConfig;
  /** Makes sure this session has its row in the holders table. */
  register(host: string, pid: number, startTime: number | undefined): pg.QueryConfig;
}

export function lockStatements(schema: string): LockStatements {
  const s = `"${schema}"`;
  const fn = { exclusive: "pg_advisory_lock", shared: "pg_advisory_lock_shared" };
  const tryFn = { exclusive: "pg_try_advisory_lock", shared: "pg_try_advisory_lock_shared" };
  const unlockFn = { exclusive: "pg_advisory_unlock", shared: "pg_advisory_unlock_shared" };
  // Records the grant in the session's holders row; `g` yields the token (or NULL).
  const record = `h AS (
      UPDATE ${s}.holders SET lock_key = $1::bigint, name = $2, mode = $3, token = g.token,
        holder = $4::jsonb, acquired_at = now()
      FROM g WHERE backend_pid = pg_backend_pid() AND g.token IS NOT NULL)
    SELECT token FROM g`;
  const text = {
    lock: {
      exclusive: "",
      shared: "",
    },
    tryLock: { exclusive: "", shared: "" },
  };
  for (const mode of ["exclusive", "shared"] as const) {
    text.lock[mode] = `WITH g AS MATERIALIZED (
      SELECT nextval('${s}.fence') AS token FROM (
        SELECT ${fn[mode]}($1::bigint) FROM (
          SELECT set_config('lock_timeout', $5, true) OFFSET 0) c OFFSET 0) l),
    ${record}`;
    text.tryLock[mode] = `WITH g AS MATERIALIZED (
      SELECT CASE WHEN ${tryFn[mode]}($1::bigint) THEN nextval('${s}.fence') END AS token),
    ${record}`;
  }
  // Joining this session's shared hold is a re-entrant no-op for the server, so it is
  // done only while nobody waits for the key: otherwise our new reader would overtake
  // that waiter.
  const joinText = `WITH g AS MATERIALIZED (
      SELECT CASE WHEN NOT EXISTS (
        SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND ((classid::bigint << 32) | objid::bigint) = $1::bigint)
      THEN nextval('${s}.fence') END AS token),
    ${record}`;
  return {
    lock: (mode, key, name, holder, timeLeftMs) => ({
      name: `interlock_lock_${mode}`,
      text: text.lock[mode],
      values: [
        key,
        name,
        mode,
        holder,
        // lock_timeout is an int of milliseconds; 0 means no limit.
        Number.isFinite(timeLeftMs)
          ? String(Math.min(2 ** 31 - 1, Math.max(1, Math.ceil(timeLeftMs))))
          : "0",
      ],
    }),
    tryLock: (mode, key, name, holder) => ({
      name: `interlock_try_${mode}`,
      text: text.tryLock[mode],
      values: [key, name, mode, holder],
    }),
    join: (key, name, holder) => ({
      name: "interlock_join",
      text: joinText,
      values: [key, name, "shared", holder],
    }),
    unlock: (mode, key) => ({
      name: `interlock_unlock_${mode}`,
      text: `SELECT ${unlockFn[mode]}($1::bigint) AS ok`,
      values: [key],
    }),
    register: (host, pid, startTime) => ({
      text: `INSERT INTO ${s}.holders (backend_pid, host, pid, start_time) VALUES (pg_backend_pid(), $1, $2, $3)
        ON CONFLICT (backend_pid) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,
          start_time = EXCLUDED.start_time, lock_key = NULL, name = NULL, token = NULL, holder = NULL`,
      values: [host, pid, startTime ?? null],
    }),
  };
}
