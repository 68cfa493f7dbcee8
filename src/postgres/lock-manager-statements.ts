// The statements of backend.locks (the LockManager), each one round trip, and the server
// side of a LockManager request, which the lock table runs in place of its own.
//
// query() on any host must tell who holds and who waits, yet the uncontended request
// must cost what acquireLock costs (a record written with every grant would cost a
// third of the cycle: an xid and a commit). So a request writes its session's record
// only when it is already contended:
// - a request that did not wait in its process sends a plain try (never waits). Granted,
//   that is the whole acquire; its hold shows in pg_locks at once, is named through
//   lock_names (written with the first try of each name by each backend), and gets its
//   full record (request id, since when, holder fields) like any hold that outlives 25
//   ms (lock-statements.ts).
// - refused, or for a request that waited in its process, a try that also writes the
//   record: which request, name, mode, since when. Refused, the record commits anyway
//   and describes a waiter (pg_locks shows the session waiting once the next statement
//   runs); granted, it describes the holder.
// - then, if still refused and allowed to wait, the waiting statement (the server's
//   FIFO queue), which stamps the record with the token and the grant time when (and
//   only if) it is granted.
// The record is one row per session (a HOT update of an unlogged row). It is believed
// only next to pg_locks, and is cleared with the unlock (or before the session is
// parked), so it never describes a later hold.
//
// Requests no session record describes have a row in lock_requests: requests queued in
// their process behind another of its requests (written from the pool once they have
// waited a turn of the event loop), and shared requests joining their process's shared
// hold (written by the join statement itself, removed by the joiner's release).
import type pg from "pg";
import { storedName } from "./keys.js";
import type { RemoteLockMode } from "./remote-lock.js";

/** What a LockManager request adds to a lock request. @internal */
export interface RequestTag {
  /** The backend's client id. */
  readonly client: string;
  /** The request's number in its client. */
  readonly seq: number;
  /** `performance.now()` when the request was made: its waiters' `since`. */
  readonly started: number;
  /**
   * Set by the lock table once the request is its process's head for the key and asks
   * the server itself (so its session's record describes it), or joins a shared hold.
   */
  atServer: boolean;
  /** Set by the lock table when the request had to wait in this process. */
  waited: boolean;
  /** Set by the lock table when the request was granted by joining a shared hold. */
  joined: boolean;
}

const MAX_LOCK_TIMEOUT = 2 ** 31 - 1;

export interface TagStatements {
  /** A plain try that also makes sure lock_names has the key's name. */
  namingTry(mode: RemoteLockMode, key: string, name: string): pg.QueryConfig;
  recordTry(
    mode: RemoteLockMode,
    key: string,
    name: string,
    tag: RequestTag,
    holder: string | null,
  ): pg.QueryConfig;
  lock(mode: RemoteLockMode, key: string, timeLeftMs: number): pg.QueryConfig;
  join(key: string, name: string, tag: RequestTag, holder: string | null): pg.QueryConfig;
  deleteRow(client: string, seq: number): pg.QueryConfig;
  /**
   * A record of `key` that names nobody: query() then shows neither this session's
   * record nor the session as an unrecorded holder (its joiners' rows show who holds).
   */
  blankRecord(key: string): pg.QueryConfig;
}

export function tagStatements(schema: string, host: string, pid: number): TagStatements {
  const s = `"${schema}"`;
  const token = `nextval('${s}.fence')`;
  const tryFn = { exclusive: "pg_try_advisory_lock", shared: "pg_try_advisory_lock_shared" };
  const fn = { exclusive: "pg_advisory_lock", shared: "pg_advisory_lock_shared" };
  // `t` and `n` are referenced twice, so each is evaluated once; the token is taken only
  // if the try succeeded, and the record's `since` is the grant (now) or, for a waiter,
  // when its request was made ($5 ms ago).
  // The name's insert commits with the grant; once the name is there it writes nothing.
  const namingTry = (mode: RemoteLockMode) =>
    `WITH d AS (INSERT INTO ${s}.lock_names (key, name) VALUES ($1::bigint, $2) ON CONFLICT (key) DO NOTHING)
    SELECT CASE WHEN ${tryFn[mode]}($1::bigint) THEN ${token} END AS token`;
  const recordText = (mode: RemoteLockMode) =>
    `WITH t AS (SELECT ${tryFn[mode]}($1::bigint) AS ok),
      n AS (SELECT CASE WHEN ok THEN ${token} END AS token FROM t),
      u AS (UPDATE ${s}.holders SET lock_key = $1::bigint, name = $2, mode = '${mode}', request = $3::bigint,
          holder = $4::jsonb, token = (SELECT token FROM n),
          acquired_at = CASE WHEN (SELECT ok FROM t) THEN now() ELSE now() - make_interval(secs => $5::float8 / 1000) END
        WHERE backend_pid = pg_backend_pid())
    SELECT token FROM n`;
  // The update reads `n`, which scans `l`: it runs after the grant (clock_timestamp() is
  // the grant time), and not at all if the wait times out or is cancelled.
  const lockText = (mode: RemoteLockMode, timed: boolean) =>
    `WITH ${timed ? "c AS (SELECT set_config('lock_timeout', $2, true) AS v), " : ""}
      l AS (SELECT ${fn[mode]}($1::bigint) ${timed ? "FROM c" : ""}),
      n AS (SELECT ${token} AS token FROM l),
      u AS (UPDATE ${s}.holders SET token = (SELECT token FROM n), acquired_at = clock_timestamp()
        WHERE backend_pid = pg_backend_pid() AND (SELECT token FROM n) IS NOT NULL)
    SELECT token FROM n`;
  const texts = {
    exclusive: {
      namingTry: namingTry("exclusive"),
      recordTry: recordText("exclusive"),
      lock: lockText("exclusive", false),
      lockTimed: lockText("exclusive", true),
    },
    shared: {
      namingTry: namingTry("shared"),
      recordTry: recordText("shared"),
      lock: lockText("shared", false),
      lockTimed: lockText("shared", true),
    },
  };
  // As the backend's join (lock-statements.ts): granted only while nobody waits for the
  // key; the joiner's row commits with it.
  const joinText = `WITH j AS (SELECT CASE WHEN NOT EXISTS (
        SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND ((classid::bigint << 32) | objid::bigint) = $1::bigint)
      THEN ${token} END AS token),
      i AS (INSERT INTO ${s}.lock_requests (client, seq, key, name, mode, backend_pid, since, holder, host, pid)
        SELECT $3, $4::bigint, $1::bigint, $2, 'shared', pg_backend_pid(), now(), $5::jsonb, $6, $7
        FROM j WHERE j.token IS NOT NULL
        ON CONFLICT (client, seq) DO UPDATE SET backend_pid = EXCLUDED.backend_pid, since = EXCLUDED.since)
    SELECT token FROM j`;
  return {
    namingTry: (mode, key, name) => ({
      name: `interlock_lm_name_try_${mode}`,
      text: texts[mode].namingTry,
      values: [key, storedName(name)],
    }),
    recordTry: (mode, key, name, tag, holder) => ({
      name: `interlock_lm_try_${mode}`,
      text: texts[mode].recordTry,
      values: [
        key,
        storedName(name),
        tag.seq,
        holder,
        Math.max(0, performance.now() - tag.started),
      ],
    }),
    lock: (mode, key, timeLeftMs) =>
      Number.isFinite(timeLeftMs)
        ? {
            name: `interlock_lm_lock_${mode}_t`,
            text: texts[mode].lockTimed,
            values: [key, String(Math.min(MAX_LOCK_TIMEOUT, Math.max(1, Math.ceil(timeLeftMs))))],
          }
        : { name: `interlock_lm_lock_${mode}`, text: texts[mode].lock, values: [key] },
    join: (key, name, tag, holder) => ({
      name: "interlock_lm_join",
      text: joinText,
      values: [key, storedName(name), tag.client, tag.seq, holder, host, pid],
    }),
    blankRecord: (key) => ({
      name: "interlock_lm_blank_record",
      text: `UPDATE ${s}.holders SET lock_key = $1::bigint, name = NULL, request = NULL, token = NULL, holder = NULL
        WHERE backend_pid = pg_backend_pid()`,
      values: [key],
    }),
    deleteRow: (client, seq) => ({
      name: "interlock_lm_delete_row",
      text: `DELETE FROM ${s}.lock_requests WHERE client = $1 AND seq = $2::bigint`,
      values: [client, seq],
    }),
  };
}
