// The holder record of a PostgreSQL lock: what a grant writes (the `holder` fields),
// how `readLockHolder` reads it back from pg_locks, and the timeout message built from it.
import { LockTimeoutError } from "../errors.js";
import { describe } from "../internal/describe.js";
import type { BackendContext } from "./context.js";
import type { LockRequest } from "./lock-table.js";
import type { RemoteLockMode } from "./remote-lock.js";

/**
 * Who holds a PostgreSQL lock, from {@link PostgresBackend.readLockHolder}: the
 * holder's process (`pid` on `hostname`), the server backend serving it, the grant's
 * `token`, when it was granted (`acquiredAt`, milliseconds since the epoch, server
 * clock), and the `holder` fields it passed.
 *
 * @example
 * ```ts
 * const h = await backend.readLockHolder("deploy");
 * if (h) console.log(`${h.mode} by pid ${h.pid} on ${h.hostname} since ${new Date(h.acquiredAt).toISOString()}`);
 * ```
 */
export interface RemoteLockHolder {
  name: string;
  mode: RemoteLockMode;
  token: number;
  pid: number;
  hostname: string;
  processStartTime?: number;
  backendPid: number;
  acquiredAt: number;
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
  if (holder === undefined) return null;
  if (typeof holder !== "object" || holder === null || Array.isArray(holder)) {
    throw new TypeError(
      `Expected \`holder\` to be a plain object of JSON values, e.g. \`{ purpose: "deploy" }\`, got ${describe(holder)}`,
    );
  }
  for (const key of RESERVED) {
    if (Object.hasOwn(holder, key)) {
      throw new TypeError(
        `\`holder.${key}\` is written by interlock itself; use another name for your field`,
      );
    }
  }
  let json: string;
  try {
    json = JSON.stringify(holder);
  } catch (err) {
    throw new TypeError(
      `Expected \`holder\` to be serializable as JSON: ${(err as Error).message}`,
    );
  }
  if (json.length > 4096) {
    throw new RangeError(
      `\`holder\` serializes to ${json.length} characters; keep it under 4096 (it is a label, not storage)`,
    );
  }
  return json;
}

/** The holder of the lock with advisory key `key`, from pg_locks and the holder records. @internal */
export async function readHolder(
  ctx: BackendContext,
  key: string,
): Promise<RemoteLockHolder | undefined> {
  const r = await ctx.pool.query({
    text: `SELECT h.*, l.pid AS lpid, l.mode AS lmode, (extract(epoch FROM h.acquired_at) * 1000)::float8 AS at
      FROM pg_locks l JOIN ${ctx.s}.holders h ON h.backend_pid = l.pid AND h.lock_key = $1::bigint
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint
      ORDER BY (l.mode = 'ExclusiveLock') DESC, h.acquired_at LIMIT 1`,
    values: [key],
  });
  const row = r.rows[0];
  if (row === undefined) return undefined;
  const holder: RemoteLockHolder = {
    ...(row.holder ?? {}),
    name: row.name,
    mode: row.lmode === "ExclusiveLock" ? "exclusive" : "shared",
    token: Number(row.token),
    pid: row.pid,
    hostname: row.host,
    backendPid: row.lpid,
    acquiredAt: Math.round(row.at),
  };
  if (row.start_time !== null) holder.processStartTime = Number(row.start_time);
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
    const h = ctx.closed ? undefined : await readHolder(ctx, r.key);
    if (h !== undefined) {
      const purpose = typeof h.purpose === "string" ? ` (${h.purpose})` : "";
      const secs = ((Date.now() - h.acquiredAt) / 1000).toFixed(1);
      who = `: held ${h.mode === "shared" ? "in shared mode " : ""}by pid ${h.pid} on ${h.hostname}${purpose} for ${secs} s, token ${h.token}`;
    }
  } catch {
    // The message is a courtesy; the timeout is the error.
  }
  return new LockTimeoutError(
    ms,
    `Timed out after ${ms} ms waiting for the ${r.mode} PostgreSQL lock ${JSON.stringify(r.name)}${who}`,
  );
}
