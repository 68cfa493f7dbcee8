import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import pg from "pg";
import { AbortError, LockTimeoutError } from "../errors.js";
import { listenForAbort } from "../internal/abort-watch.js";
import { describe } from "../internal/describe.js";
import { processStartTime } from "../process/index.js";
import type { BackendContext } from "./context.js";
import { PostgresConnectionError } from "./errors.js";
import { lockTimeoutError } from "./holder-record.js";
import { advisoryKey } from "./keys.js";
import { lockStatements } from "./lock-statements.js";
import { LockTable } from "./lock-table.js";
import { refuseTransactionPooler } from "./pooler-check.js";
import { PostgresBackend } from "./postgres-backend.js";
import type { RegistryOwner } from "./registry-types.js";
import type { RemoteLock } from "./remote-lock.js";
import { ensureSchema } from "./schema.js";
import { SessionPool } from "./session-pool.js";

/**
 * Options of {@link connectPostgres}.
 * - `connectionString` (required): `postgres://user@host:5432/db`. Point it at the
 *   server directly or at a session-mode pool; a transaction-mode pooler is refused.
 * - `namespace` (default `"default"`): prefix of every lock name, state key and
 *   registry, so several applications can share one schema without colliding.
 * - `schema` (default `"interlock"`): where interlock keeps its tables; created or
 *   upgraded on first use (needs CREATE on the database the first time).
 * - `leaseMs` (default 10 000, at least 300): a holder that sends no heartbeat for this
 *   long loses its locks on the server (`idle_session_timeout`); heartbeats go every
 *   `leaseMs / 3`, and the local deadline fires before the server's.
 * - `poolSize` (default 4): connections for state updates, registry operations and
 *   lock inspection. Lock sessions are separate: one per held or awaited lock name.
 * - `clientOptions`: more options for each `new pg.Client()` (`ssl`, `password`, …).
 *
 * @example
 * ```ts
 * const options: PostgresBackendOptions = {
 *   connectionString: process.env.DATABASE_URL!,
 *   namespace: "ci",
 *   leaseMs: 15_000,
 * };
 * ```
 */
export interface PostgresBackendOptions {
  connectionString: string;
  namespace?: string | undefined;
  schema?: string | undefined;
  leaseMs?: number | undefined;
  poolSize?: number | undefined;
  clientOptions?: Record<string, unknown> | undefined;
}

interface Valid {
  clientConfig: pg.ClientConfig;
  namespace: string;
  schema: string;
  leaseMs: number;
  poolSize: number;
}

function validate(options: unknown): Valid {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Expected options {connectionString, ...}, got ${describe(options)}`);
  }
  const o = options as PostgresBackendOptions;
  if (typeof o.connectionString !== "string" || o.connectionString === "") {
    throw new TypeError(
      `Expected \`connectionString\` to be a non-empty string like "postgres://user@host:5432/db", got ${describe(o.connectionString)}`,
    );
  }
  const namespace = o.namespace ?? "default";
  if (typeof namespace !== "string" || namespace === "") {
    throw new TypeError(
      `Expected \`namespace\` to be a non-empty string, got ${describe(namespace)}`,
    );
  }
  const schema = o.schema ?? "interlock";
  if (typeof schema !== "string" || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new TypeError(
      `Expected \`schema\` to be a lower-case SQL identifier (letters, digits, _), got ${describe(schema)}`,
    );
  }
  const leaseMs = o.leaseMs ?? 10_000;
  if (
    typeof leaseMs !== "number" ||
    !Number.isInteger(leaseMs) ||
    leaseMs < 300 ||
    leaseMs > 2 ** 31 - 1
  ) {
    throw new RangeError(
      `Expected \`leaseMs\` to be an integer number of milliseconds, at least 300, got ${describe(leaseMs)}`,
    );
  }
  const poolSize = o.poolSize ?? 4;
  if (typeof poolSize !== "number" || !Number.isInteger(poolSize) || poolSize < 1) {
    throw new RangeError(
      `Expected \`poolSize\` to be a positive integer, got ${describe(poolSize)}`,
    );
  }
  if (
    o.clientOptions !== undefined &&
    (typeof o.clientOptions !== "object" || o.clientOptions === null)
  ) {
    throw new TypeError(
      `Expected \`clientOptions\` to be an object, got ${describe(o.clientOptions)}`,
    );
  }
  const id = randomUUID().slice(0, 8);
  return {
    clientConfig: {
      ...o.clientOptions,
      connectionString: o.connectionString,
      application_name: `interlock ${id}`,
      // Notice a dead peer on an idle connection (the heartbeat covers held locks).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    },
    namespace,
    schema,
    leaseMs,
    poolSize,
  };
}

/**
 * Connects interlock to a PostgreSQL database (14 or later): locks with fencing tokens
 * and lost-lock signals, state and a registry that work across hosts. Loads the `pg`
 * driver, an optional peer dependency (`npm install pg`).
 *
 * On connect it checks the server version, refuses a transaction-mode pooler
 * (`EPGPOOLER`: session locks cannot work through one), and installs or upgrades its
 * schema under a transaction-scoped advisory lock, so many processes may start at once.
 *
 * @throws {TypeError} / {RangeError} synchronously for bad options.
 * @throws {PostgresConnectionError} `EPGPOOLER`, `EPGVERSION`, `EPGSCHEMA`; or the
 *   driver's error (authentication, network).
 *
 * @example
 * ```ts
 * import { connectPostgres } from "interlock/postgres";
 *
 * const backend = await connectPostgres({ connectionString: process.env.DATABASE_URL!, namespace: "ci" });
 * try {
 *   await backend.withLock("deploy", (lock) => deploy({ signal: lock.signal, fence: lock.token }));
 * } finally {
 *   await backend.close();
 * }
 * ```
 */
export function connectPostgres(options: PostgresBackendOptions): Promise<PostgresBackend> {
  return connect(validate(options));
}

async function connect(v: Valid): Promise<PostgresBackend> {
  const probe = new pg.Client(v.clientConfig);
  probe.on("error", () => {});
  await probe.connect();
  try {
    const info = (
      await probe.query<{ version: number; pid: number }>(
        "SELECT current_setting('server_version_num')::int AS version, pg_backend_pid() AS pid",
      )
    ).rows[0]!;
    if (info.version < 140000) {
      throw new PostgresConnectionError(
        "EPGVERSION",
        `PostgreSQL ${Math.floor(info.version / 10000)} is too old: interlock needs 14 or later, whose idle_session_timeout ends the session of a paused lock holder`,
      );
    }
    await refuseTransactionPooler(probe, info.pid, v.clientConfig);
    await ensureSchema(probe, v.schema);
  } finally {
    await probe.end().catch(() => {});
  }

  const start = processStartTime(process.pid);
  const owner: RegistryOwner = { pid: process.pid, hostname: hostname() };
  if (start !== undefined) owner.processStartTime = start;
  const ownerKey = advisoryKey("owner", v.namespace, randomUUID());
  // Names this backend's lock sessions and LockManager requests to other clients.
  const clientId = randomBytes(6).toString("base64url");
  const s = `"${v.schema}"`;

  const pool = new pg.Pool({ ...v.clientConfig, max: v.poolSize, idleTimeoutMillis: 10_000 });
  // An idle pooled connection that dies (server restart) is dropped by the pool; without
  // a listener its error would crash the process.
  pool.on("error", () => {});
  const sessions = new SessionPool(
    { clientConfig: v.clientConfig, leaseMs: v.leaseMs },
    lockStatements(v.schema).register(owner.hostname, owner.pid, start, clientId),
  );
  let ownerLock: RemoteLock | undefined;
  let ownerLocking: Promise<RemoteLock> | undefined;
  const ctx: BackendContext & { closed: boolean } = {
    pool,
    s,
    namespace: v.namespace,
    leaseMs: v.leaseMs,
    owner,
    ownerKey,
    clientId,
    closed: false,
    locks: undefined as unknown as LockTable,
    async ownerLock(signal, timeoutMs) {
      if (ownerLock?.held) return ownerLock;
      // One acquire for every caller; each caller bounds its own wait for it.
      ownerLocking ??= ctx.locks
        .acquire({
          name: "registry owner",
          key: ownerKey,
          mode: "exclusive",
          holder: JSON.stringify({ purpose: "interlock registry owner" }),
          signal: undefined,
          timeoutMs: undefined,
          deadline: Number.POSITIVE_INFINITY,
        })
        .then((lock) => {
          ownerLock = lock;
          // Lost (connection ended, paused past the lease): taken again on next use.
          lock.signal.addEventListener("abort", () => void lock.release().catch(() => {}), {
            once: true,
          });
          return lock;
        })
        .finally(() => {
          ownerLocking = undefined;
        });
      return bounded(ownerLocking, signal, timeoutMs);
    },
  };
  (ctx as { locks: LockTable }).locks = new LockTable(
    v.schema,
    sessions,
    (r) => lockTimeoutError(ctx, r),
    () => ctx.closed,
    owner,
  );
  return new PostgresBackend({ ctx, locks: ctx.locks, sessions, pool, schema: v.schema });
}

/** `p`, unless `signal` aborts or `timeoutMs` passes first. */
function bounded<T>(
  p: Promise<T>,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
): Promise<T> {
  if (signal === undefined && timeoutMs === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => settle(() => reject(new AbortError(signal!.reason)));
    let stopListening: (() => void) | undefined;
    const settle = (fn: () => void): void => {
      clearTimeout(timer);
      stopListening?.();
      fn();
    };
    if (signal?.aborted) return onAbort();
    stopListening = signal && listenForAbort(signal, onAbort);
    if (timeoutMs !== undefined && timeoutMs <= 2 ** 31 - 1) {
      timer = setTimeout(
        () =>
          settle(() =>
            reject(
              new LockTimeoutError(
                timeoutMs,
                `Timed out after ${timeoutMs} ms waiting for this process's registry owner lock (its previous session may still be ending)`,
              ),
            ),
          ),
        timeoutMs,
      );
    }
    p.then(
      (v) => settle(() => resolve(v)),
      (err) => settle(() => reject(err)),
    );
  });
}
