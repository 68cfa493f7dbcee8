import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, inject } from "vitest";
import {
  connectPostgres,
  type PostgresBackend,
  type PostgresBackendOptions,
  type RemoteLockHolder,
} from "../../src/postgres/index.js";
import { advisoryKey } from "../../src/postgres/keys.js";
import { sql } from "./cluster.js";

export const pgUrl = (): string => inject("pgUrl");
export const pgAdminUrl = (): string => inject("pgAdminUrl");

/** A namespace no other test uses, so tests can share one cluster and one schema. */
export function freshNamespace(): string {
  return `t-${randomUUID()}`;
}

/**
 * Registers cleanup and returns a connect function: every backend it made is closed
 * after the test. Backends of one call share a namespace unless told otherwise.
 */
export function useBackends(): (
  options?: Partial<PostgresBackendOptions>,
) => Promise<PostgresBackend> {
  const made: PostgresBackend[] = [];
  let namespace = freshNamespace();
  afterEach(async () => {
    await Promise.all(made.splice(0).map((b) => b.close()));
    namespace = freshNamespace();
  });
  return async (options = {}) => {
    const b = await connectPostgres({ connectionString: pgUrl(), namespace, ...options });
    made.push(b);
    return b;
  };
}

/**
 * `count` backends sharing one fresh namespace, connected before the file's tests and
 * closed after them (for property tests whose runs share the connections).
 */
export function useSharedBackends(count: number): {
  backends: PostgresBackend[];
  namespace: string;
} {
  const set = { backends: [] as PostgresBackend[], namespace: "" };
  beforeAll(async () => {
    set.namespace = freshNamespace();
    set.backends = await Promise.all(
      Array.from({ length: count }, () =>
        connectPostgres({ connectionString: pgUrl(), namespace: set.namespace }),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all(set.backends.map((b) => b.close()));
  });
  return set;
}

/** Rows of pg_locks for a lock name of a namespace: who holds and who waits. */
export async function locksOf(
  namespace: string,
  name: string,
  kind: "lock" | "owner" = "lock",
): Promise<{ pid: number; mode: string; granted: boolean }[]> {
  return sql(
    pgAdminUrl(),
    `SELECT pid, mode, granted FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1
       AND ((classid::bigint << 32) | objid::bigint) = $1::bigint ORDER BY granted DESC, pid`,
    [advisoryKey(kind, namespace, name)],
  );
}

/** pg_terminate_backend as the superuser. */
export async function terminate(pid: number): Promise<void> {
  await sql(pgAdminUrl(), "SELECT pg_terminate_backend($1)", [pid]);
}

/** Polls `check` until it returns a value other than `undefined`; a safety net, not a sleep. */
export async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** readLockHolder once the hold has its grant record (written after a few tens of ms). */
export function recordedHolder(b: PostgresBackend, name: string): Promise<RemoteLockHolder> {
  return until(async () => {
    const h = await b.readLockHolder(name);
    return h?.token === undefined ? undefined : h;
  }, `the holder record of ${name}`);
}
