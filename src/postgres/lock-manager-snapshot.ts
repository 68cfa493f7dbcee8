// query() of backend.locks: who holds and who waits, on every host.
//
// Two sources:
// - this client's requests, from memory (exact, and the same moment's view);
// - every other client's, from one statement that reads pg_locks (the server's own lock
//   table: granted and waiting advisory locks, with the backend pid) and believes only
//   what it confirms:
//   - a session's record (holders), when pg_locks shows that session holding the
//     record's lock (a holder) or waiting for it (a waiter at the head of its process's
//     queue); it names the request, the name, the mode and since when;
//   - a hold pg_locks shows on an interlock session without a record yet (younger than
//     the record's 25 ms, or its holder's event loop is blocked): named through
//     lock_names, since its session went idle (or now, when the server hides that from
//     another role), without holder fields;
//   - a joiner's row (lock_requests with a backend_pid), when pg_locks shows that
//     session holding the lock;
//   - a queued request's row (lock_requests without one), when pg_locks shows a session
//     of its client on the lock (holding or waiting): the request it queues behind.
//   A client that died or lost its connections has no backend in pg_locks, so nothing
//   of it shows, whatever its rows and records still say.
// A request granted a moment ago may show through its waiting row and its session's
// record at once: the record wins (same request id). Names are checked against the key
// (so other namespaces, and the registry's owner locks, never show), and hostname and
// pid are the client process's.
import { byAge } from "../locks/by-age.js";
import type { LockInfo, LockManagerSnapshot } from "../locks/types.js";
import { advisoryKey, storedNameOf } from "./keys.js";
import type { LockClient } from "./lock-manager-request.js";

interface Found extends LockInfo {
  seq: number;
  held: boolean;
}

interface Row {
  /** Where it comes from: a session's record, a hold without one, or a lock_requests row. */
  src: "record" | "unrecorded" | "row";
  held: boolean;
  key: string;
  client: string | null;
  seq: string | null;
  name: string;
  mode: string;
  host: string;
  pid: number;
  holder: Record<string, unknown> | null;
  since: number;
}

function strip(found: Found[]): LockInfo[] {
  return found.sort(byAge).map(({ seq: _seq, held: _held, ...info }) => info);
}

function info(
  name: string,
  mode: string,
  clientId: string,
  pid: number,
  hostname: string,
  since: number,
  holder: Record<string, unknown> | null | undefined,
): LockInfo {
  const entry: LockInfo = {
    name,
    mode: mode === "shared" ? "shared" : "exclusive",
    clientId,
    pid,
    hostname,
    since,
  };
  if (holder !== null && holder !== undefined) entry.holder = holder;
  return entry;
}

/** The statement behind query(); `$1` restricts it to one key (or NULL for all). */
export function snapshotText(s: string): string {
  return `WITH l AS MATERIALIZED (
      SELECT pid, ((classid::bigint << 32) | objid::bigint) AS key, granted, mode FROM pg_locks
      WHERE locktype = 'advisory' AND objsubid = 1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
    SELECT 'record' AS src, l.granted AS held, l.key::text AS key, h.client, h.request::text AS seq, h.name, h.mode,
        h.host, h.pid, h.holder, (extract(epoch FROM h.acquired_at) * 1000)::float8 AS since
      FROM l JOIN ${s}.holders h ON h.backend_pid = l.pid AND h.lock_key = l.key
      WHERE ($1::bigint IS NULL OR l.key = $1::bigint) AND h.name IS NOT NULL
    UNION ALL
    SELECT 'unrecorded', true, l.key::text, h.client, NULL, n.name, CASE WHEN l.mode = 'ExclusiveLock' THEN 'exclusive' ELSE 'shared' END,
        h.host, h.pid, NULL, (extract(epoch FROM COALESCE(a.state_change, now())) * 1000)::float8
      FROM l JOIN ${s}.holders h ON h.backend_pid = l.pid AND h.lock_key IS DISTINCT FROM l.key
        JOIN ${s}.lock_names n ON n.key = l.key
        LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE ($1::bigint IS NULL OR l.key = $1::bigint) AND l.granted
    UNION ALL
    SELECT 'row', r.backend_pid IS NOT NULL, r.key::text, r.client, r.seq::text, r.name, r.mode,
        r.host, r.pid, r.holder, (extract(epoch FROM r.since) * 1000)::float8
      FROM ${s}.lock_requests r
      WHERE ($1::bigint IS NULL OR r.key = $1::bigint) AND CASE WHEN r.backend_pid IS NOT NULL
        THEN EXISTS (SELECT 1 FROM l WHERE l.pid = r.backend_pid AND l.key = r.key AND l.granted)
        ELSE EXISTS (SELECT 1 FROM l JOIN ${s}.holders h ON h.backend_pid = l.pid
          WHERE l.key = r.key AND h.client = r.client) END`;
}

/** Everything held and pending in this namespace, or only for the name `only`. */
export async function snapshot(client: LockClient, only?: string): Promise<LockManagerSnapshot> {
  const { ctx, clientId } = client;
  // By request id (`<client>.<seq>`); acquireLock holds have none.
  const found = new Map<string, Found>();
  const anonymous: Found[] = [];
  for (const q of client.queues.values()) {
    if (only !== undefined && q.name !== only) continue;
    for (const r of q.requests) {
      if (r.state === "done") continue;
      const e = info(q.name, r.mode, clientId, process.pid, ctx.owner.hostname, r.since, r.holder);
      found.set(`${clientId}.${r.seq}`, { ...e, seq: r.seq, held: r.state === "held" });
    }
  }
  const onlyKey = only === undefined ? null : advisoryKey("lock", ctx.namespace, only);
  const { rows } = await ctx.pool.query<Row>({
    name: "interlock_lm_snapshot",
    text: snapshotText(ctx.s),
    values: [onlyKey],
  });
  const keys = new Map<string, string>();
  const keyOf = (name: string): string => {
    let key = keys.get(name);
    if (key === undefined) keys.set(name, (key = advisoryKey("lock", ctx.namespace, name)));
    return key;
  };
  for (const row of rows) {
    // Ours come from memory; a recorded acquireLock hold of this backend (no request,
    // but a holder record) shows, as other clients' do.
    if (row.client === clientId && (row.seq !== null || row.src !== "record")) continue;
    // Other namespaces' names and the registry's owner locks match no key of ours.
    const name = storedNameOf(row.name, row.key, keyOf);
    if (name === undefined) continue;
    const seq = row.seq === null ? 0 : Number(row.seq);
    const e: Found = {
      ...info(
        name,
        row.mode,
        row.client ?? `pid ${row.pid}@${row.host}`,
        row.pid,
        row.host,
        Math.round(row.since),
        row.holder,
      ),
      seq,
      held: row.held,
    };
    if (row.seq === null || row.client === null) {
      anonymous.push(e);
      continue;
    }
    const id = `${row.client}.${row.seq}`;
    const seen = found.get(id);
    if (seen === undefined || (e.held && !seen.held)) found.set(id, e);
  }
  const held: Found[] = [];
  const pending: Found[] = [];
  for (const e of [...found.values(), ...anonymous]) (e.held ? held : pending).push(e);
  return { held: strip(held), pending: strip(pending) };
}

/**
 * Whether a session of another client (or a program other than interlock) holds `key`
 * on the server right now, from pg_locks alone; if so, who, as far as recorded (for
 * LockStealError).
 */
export async function othersHolding(
  client: LockClient,
  name: string,
  key: string,
): Promise<LockInfo[] | undefined> {
  const { ctx } = client;
  const { rows } = await ctx.pool.query<{ n: number }>({
    name: "interlock_lm_others",
    text: `SELECT count(*)::int AS n FROM pg_locks l LEFT JOIN ${ctx.s}.holders h ON h.backend_pid = l.pid
      WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint
        AND h.client IS DISTINCT FROM $2`,
    values: [key, client.clientId],
  });
  if (rows[0]!.n === 0) return undefined;
  const { held } = await snapshot(client, name);
  return held.filter((h) => h.clientId !== client.clientId);
}
