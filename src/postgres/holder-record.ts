// The holder record of a PostgreSQL lock: each lock session's row (host, pid, written
// when the session opens), the grant fields written once a hold outlives RECORD_AFTER_MS
// (token, since when, the `holder` fields), how `readLockHolder` reads them back next to
// pg_locks, and the timeout message built from them.
import { LockTimeoutError } from "../errors.js";
import { holderJson } from "../internal/holder-json.js";
import type { BackendContext } from "./context.js";
import type { LockRequest } from "./lock-table.js";
import type { RemoteLockMode } from "./remote-lock.js";

/**
 * Who holds a PostgreSQL lock, from `backend.readLockHolder(name)`: the holder's process
 * (`pid` on `hostname`) and the server backend serving it, always; and, for a hold that
 * has lasted more than a few tens of milliseconds (the record is written then, to keep
 * short holds cheap), the grant's `token`, when it was granted (`acquiredAt`,
 * milliseconds since the epoch, server clock) and the `holder` fields it passed.
 *
 * @example
 * ```ts
 * const h = await backend.readLockHolder("deploy");
 * if (h?.acquiredAt) console.log(`pid ${h.pid} on ${h.hostname} since ${new Date(h.acquiredAt).toISOString()}`);
 * ```
 */
export interface RemoteLockHolder {
  name: string;
  mode: RemoteLockMode;
  pid: number;
  hostname: string;
  processStartTime?: number;
  backendPid: number;
  token?: number;
  acquiredAt?: number;
  [field: string]: unknown;
}

export const RESERVED = [
  "name",
  "mode",
  "token",
  "pid",
  "hostname",
  "processStartTime",
  "backendPid",
  "acquiredAt",
];

/** The `holder` option as the JSON text a grant stores. @internal */
export function serializeHolder(holder: unknown): string | null {
  return holderJson(holder, RESERVED, 4096) ?? null;
}

/**
 * The holder of the lock `name` (advisory key `key`): a granted pg_locks row of an
 * interlock lock session, its session row, and its grant record if it has one for this
 * key. A lock taken by a program other than interlock has no session row: `undefined`.
 * @internal
 */
export async function readHolder(
  ctx: BackendContext,
  key: string,
  name: string,
): Promise<RemoteLockHolder | undefined> {
  const r = await ctx.pool.query({
    text: `SELECT h.host, h.pid, h.start_time, l.pid AS lpid, l.mode AS lmode, h.lock_key = $1::bigint AS recorded,
        h.token, h.holder, (extract(epoch FROM h.acquired_at) * 1000)::float8 AS at
      FROM pg_locks l JOIN ${ctx.s}.holders h ON h.backend_pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint
      ORDER BY (l.mode = 'ExclusiveLock') DESC, (h.lock_key = $1::bigint) DESC NULLS LAST, h.acquired_at
      LIMIT 1`,
    values: [key],
  });
  const row = r.rows[0];
  if (row === undefined) return undefined;
  const holder: RemoteLockHolder = {
    ...(row.recorded ? (row.holder ?? {}) : {}),
    name,
    mode: row.lmode === "ExclusiveLock" ? "exclusive" : "shared",
    pid: row.pid,
    hostname: row.host,
    backendPid: row.lpid,
  };
  if (row.start_time !== null) holder.processStartTime = Number(row.start_time);
  if (row.recorded) {
    holder.token = Number(row.token);
    holder.acquiredAt = Math.round(row.at);
  }
  return holder;
}

/** The timeout error of a lock wait, naming the holder when there is one. @internal */
export async function lockTimeoutError(
  ctx: BackendContext,
  r: LockRequest,
): Promise<LockTimeoutError> {
  const ms = r.timeoutMs ?? 0;
  let who = "";
  try {
    const h = ctx.closed ? undefined : await readHolder(ctx, r.key, r.name);
    if (h !== undefined) {
      const purpose = typeof h.purpose === "string" ? ` (${h.purpose})` : "";
      const since =
        h.acquiredAt === undefined
          ? ""
          : ` for ${((Date.now() - h.acquiredAt) / 1000).toFixed(1)} s, token ${h.token}`;
      who = `: held ${h.mode === "shared" ? "in shared mode " : ""}by pid ${h.pid} on ${h.hostname}${purpose}${since}`;
    }
  } catch {
    // The message is a courtesy; the timeout is the error.
  }
  return new LockTimeoutError(
    ms,
    `Timed out after ${ms} ms waiting for the ${r.mode} PostgreSQL lock ${JSON.stringify(r.name)}${who}`,
  );
}
