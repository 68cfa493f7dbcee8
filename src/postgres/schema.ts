// The schema interlock keeps in the database, installed or upgraded on first use. Many
// processes may start at once: the check is a plain read, and only a process that finds
// the schema missing or old takes a transaction-scoped advisory lock, re-checks under
// it, and migrates; everybody else waits on that lock and then finds the work done.
import type pg from "pg";
import { PostgresConnectionError } from "./errors.js";
import { ADVISORY_KEY_SQL } from "./keys.js";

/** The version this code writes and reads. */
export const SCHEMA_VERSION = 2;

/**
 * One entry per version; entry `i` upgrades version `i` to `i + 1`. `$S` is the quoted
 * schema name. Never edit a released step: add one.
 */
const MIGRATIONS: ((s: string) => string)[] = [
  (s) => `
    -- Fencing tokens: one sequence for every lock name. nextval() writes WAL once per 32
    -- values (and after each checkpoint), and a transaction whose nextval() wrote WAL
    -- takes an xid, so its commit waits for the WAL flush: no value is seen by a client
    -- before the record that covers it is durable, and after a crash the sequence resumes
    -- above every value handed out (docs/postgres.md, "Fencing tokens").
    CREATE SEQUENCE ${s}.fence AS bigint NO CYCLE;

    -- Who holds what, one row per lock session (backend), rewritten on each grant. Only
    -- believed together with pg_locks, so it may be stale, and it is unlogged: no WAL,
    -- no fsync on the grant path; a crash empties it along with every lock.
    CREATE UNLOGGED TABLE ${s}.holders (
      backend_pid int PRIMARY KEY,
      lock_key bigint,
      name text,
      mode text,
      token bigint,
      host text NOT NULL,
      pid int NOT NULL,
      start_time bigint,
      holder jsonb,
      acquired_at timestamptz
    );

    CREATE TABLE ${s}.state (
      ns text NOT NULL,
      key text NOT NULL,
      value jsonb NOT NULL,
      version bigint NOT NULL DEFAULT 0,
      fence bigint NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (ns, key)
    );

    CREATE TABLE ${s}.registry (
      ns text NOT NULL,
      registry text NOT NULL,
      id text NOT NULL,
      slot int,
      status text NOT NULL CHECK (status IN ('pending', 'active')),
      claim bigint NOT NULL,
      owner_key bigint NOT NULL,
      owner jsonb NOT NULL,
      data jsonb,
      created_at bigint NOT NULL,
      PRIMARY KEY (ns, registry, id)
    );
    CREATE UNIQUE INDEX registry_slot ON ${s}.registry (ns, registry, slot) WHERE slot IS NOT NULL;
    CREATE INDEX registry_owner ON ${s}.registry (ns, registry, owner_key) WHERE status = 'pending';

    -- The advisory-lock key interlock uses for (kind, namespace, name), for operators:
    -- SELECT * FROM pg_locks WHERE locktype = 'advisory'
    --   AND ((classid::bigint << 32) | objid::bigint) = ${s}.lock_key('lock', 'default', 'deploy');
    CREATE FUNCTION ${s}.lock_key(kind text, ns text, name text) RETURNS bigint
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
      AS $fn$ SELECT ${ADVISORY_KEY_SQL} $fn$;
  `,
  (s) => `
    -- backend.locks (the LockManager): which client each lock session belongs to, and the
    -- LockManager request a session's record describes (its head request, held or
    -- waiting for the lock; written by the statement that asks the server for it).
    ALTER TABLE ${s}.holders ADD COLUMN client text, ADD COLUMN request bigint;

    -- LockManager requests that no session record describes: requests queued in their
    -- process behind another of its requests (backend_pid NULL), and shared requests
    -- riding on a session's shared hold (backend_pid of that session). Believed only
    -- next to pg_locks (see lock-manager-snapshot.ts); unlogged like holders.
    CREATE UNLOGGED TABLE ${s}.lock_requests (
      client text NOT NULL,
      seq bigint NOT NULL,
      key bigint NOT NULL,
      name text NOT NULL,
      mode text NOT NULL,
      backend_pid int,
      since timestamptz NOT NULL,
      holder jsonb,
      host text NOT NULL,
      pid int NOT NULL,
      PRIMARY KEY (client, seq)
    );
    CREATE INDEX lock_requests_backend ON ${s}.lock_requests (backend_pid) WHERE backend_pid IS NOT NULL;

    -- The name of each key a LockManager request asked for, so that query() can name a
    -- hold too young to have its record: one row per name ever requested.
    CREATE TABLE ${s}.lock_names (key bigint PRIMARY KEY, name text NOT NULL);
  `,
];

const UNDEFINED_TABLE = "42P01";
const INVALID_SCHEMA = "3F000";

async function installedVersion(client: pg.Client, s: string): Promise<number | undefined> {
  try {
    const r = await client.query<{ version: number }>(`SELECT version FROM ${s}.meta`);
    return r.rows[0]?.version;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === UNDEFINED_TABLE || code === INVALID_SCHEMA) return undefined;
    throw err;
  }
}

function tooNew(schema: string, version: number): PostgresConnectionError {
  return new PostgresConnectionError(
    "EPGSCHEMA",
    `The schema "${schema}" is at version ${version}, newer than this interlock knows (${SCHEMA_VERSION}); upgrade interlock, or use another \`schema\``,
  );
}

/**
 * Installs or upgrades the schema. Safe to run from many processes at once: one of
 * them migrates under `pg_advisory_xact_lock`, the others wait and find it done.
 */
export async function ensureSchema(client: pg.Client, schema: string): Promise<void> {
  const s = `"${schema}"`;
  const before = await installedVersion(client, s);
  if (before === SCHEMA_VERSION) return;
  if (before !== undefined && before > SCHEMA_VERSION) throw tooNew(schema, before);
  await client.query("BEGIN");
  try {
    await client.query(`SELECT pg_advisory_xact_lock(${ADVISORY_KEY_SQL})`, [
      "migrate",
      schema,
      "",
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.meta (one boolean PRIMARY KEY DEFAULT true CHECK (one), version int NOT NULL)`,
    );
    const r = await client.query<{ version: number }>(`SELECT version FROM ${s}.meta FOR UPDATE`);
    let version = r.rows[0]?.version ?? 0;
    if (version > SCHEMA_VERSION) throw tooNew(schema, version);
    while (version < SCHEMA_VERSION) {
      await client.query(MIGRATIONS[version]!(s));
      version++;
    }
    await client.query(
      `INSERT INTO ${s}.meta (version) VALUES ($1) ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version`,
      [version],
    );
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
}
