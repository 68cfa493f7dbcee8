import type pg from "pg";
import { AbortError } from "../errors.js";
import { describe } from "../internal/describe.js";
import { validateOptions } from "../internal/options.js";
import type { BackendContext } from "./context.js";
import { type RemoteLockHolder, readHolder, serializeHolder } from "./holder-record.js";
import { advisoryKey } from "./keys.js";
import { PostgresLockManager } from "./lock-manager.js";
import type { LockRequest, LockTable } from "./lock-table.js";
import { PostgresRegistry, type PostgresRegistryOptions } from "./registry.js";
import type { RemoteLockHandle, RemoteLockMode } from "./remote-lock.js";
import { closedError, type SessionPool } from "./session-pool.js";
import { PostgresStateStore, type StateStoreOptions } from "./state-store.js";

/**
 * Options of {@link PostgresBackend.acquireLock}: the common `signal` and `timeoutMs`
 * (for the whole wait: this process's queue, a connection, the server's queue), plus:
 * - `mode`: `"exclusive"` (default) or `"shared"`.
 * - `holder`: extra JSON fields shown by {@link PostgresBackend.readLockHolder} and in
 *   other clients' timeout messages (e.g. `{ purpose: "deploy" }`).
 *
 * @example
 * ```ts
 * const options: RemoteLockOptions = { mode: "shared", timeoutMs: 10_000, holder: { purpose: "report" } };
 * ```
 */
export interface RemoteLockOptions {
  mode?: RemoteLockMode | undefined;
  holder?: Record<string, unknown> | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/**
 * Options of {@link PostgresBackend.tryAcquireLock}: it never waits.
 *
 * @example
 * ```ts
 * const lock = await backend.tryAcquireLock("cron", { holder: { purpose: "nightly" } });
 * ```
 */
export type TryRemoteLockOptions = Pick<RemoteLockOptions, "mode" | "holder">;

/** @internal */
export interface BackendParts {
  ctx: BackendContext & { closed: boolean };
  locks: LockTable;
  sessions: SessionPool;
  pool: pg.Pool;
  schema: string;
}

/**
 * Locks, state and a registry on one PostgreSQL database, from {@link connectPostgres}.
 * See each method; docs/postgres.md has the guarantees, the failure modes and how to
 * size the lease and the connection budget.
 *
 * @example
 * ```ts
 * await using backend = await connectPostgres({ connectionString: process.env.DATABASE_URL! });
 * await backend.withLock("deploy", async (lock) => {
 *   await deploy({ signal: lock.signal });
 * });
 * ```
 */
export class PostgresBackend implements AsyncDisposable {
  /** Prefix of every lock, state key and registry of this backend. */
  readonly namespace: string;
  /** The lease of a lock session, in milliseconds. */
  readonly leaseMs: number;
  readonly #parts: BackendParts;
  #closing: Promise<void> | undefined;
  /** name → advisory key: a SHA-256 per acquire is a visible share of a cycle. */
  readonly #keys = new Map<string, string>();

  #key(name: string): string {
    let key = this.#keys.get(name);
    if (key === undefined) {
      if (this.#keys.size >= 1024) this.#keys.clear();
      key = advisoryKey("lock", this.namespace, name);
      this.#keys.set(name, key);
    }
    return key;
  }

  /**
   * The Web Locks API on this backend: `request(name, options?, callback)` and `query()`,
   * as interlock's file-lock `LockManager` offers them, across every host; see
   * {@link PostgresLockManager}. Its locks are this backend's locks: `locks.request("x")`
   * and `acquireLock("x")` exclude each other.
   *
   * @example
   * ```ts
   * await backend.locks.request("deploy", async (lock) => deploy({ signal: lock.signal, fence: lock.token }));
   * ```
   */
  readonly locks: PostgresLockManager;

  /** @internal Use {@link connectPostgres}. */
  constructor(parts: BackendParts) {
    this.#parts = parts;
    this.namespace = parts.ctx.namespace;
    this.leaseMs = parts.ctx.leaseMs;
    this.locks = new PostgresLockManager(parts.ctx, parts.locks);
  }

  #request(name: unknown, options: RemoteLockOptions | undefined): LockRequest {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`Expected \`name\` to be a non-empty string, got ${describe(name)}`);
    }
    let mode: RemoteLockMode = "exclusive";
    let holder: string | null = null;
    if (options !== undefined) {
      if (typeof options !== "object" || options === null) {
        throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
      }
      if (options.mode !== undefined && options.mode !== "exclusive" && options.mode !== "shared") {
        throw new TypeError(
          `Expected \`mode\` to be "exclusive" or "shared", got ${describe(options.mode)}`,
        );
      }
      mode = options.mode ?? "exclusive";
      holder = serializeHolder(options.holder);
      validateOptions(options);
    }
    const timeoutMs = options?.timeoutMs;
    return {
      name,
      key: this.#key(name),
      mode,
      holder,
      signal: options?.signal,
      timeoutMs,
      deadline:
        timeoutMs === undefined || timeoutMs > 2 ** 31 - 1
          ? Number.POSITIVE_INFINITY
          : performance.now() + timeoutMs,
    };
  }

  /**
   * Takes the lock `name` in this backend's namespace, waiting in the server's queue.
   *
   * **Guarantee:** while the handle is held, no other holder, in this process or any
   * other client of the database, holds an incompatible lock on `name` (exclusive
   * excludes everyone, shared excludes exclusive); every grant carries a fencing
   * `token` greater than every earlier grant's; and when the lock stops being held
   * before `release()` (connection ended, heartbeat failed, lease deadline passed) the
   * handle's `signal` aborts with a `LockLostError`. A holder that is paused or cut off
   * loses the lock on the server after at most `leaseMs` without a heartbeat, and its
   * own deadline passes before that.
   *
   * **Fairness:** FIFO. Requests of this process queue in-process first (adjacent shared
   * requests together), then on the server's queue, which grants in arrival order and
   * batches adjacent shared requests; a queued exclusive request blocks later shared
   * ones, including this process's new readers joining a shared hold it already has.
   *
   * **Cancellation:** `timeoutMs` bounds the whole wait (`LockTimeoutError`, naming the
   * holder); `signal` aborts it (`AbortError`, `cause` = `signal.reason`) by cancelling
   * the server-side wait. A waiter that gave up is never granted: a grant that races the
   * abort is undone by ending its session before the promise rejects.
   *
   * @throws {TypeError} / {RangeError} synchronously for a bad name or option.
   * @throws {LockTimeoutError} / {AbortError} / {PostgresConnectionError} (`EPGCLOSED`),
   *   or the driver's error when the server cannot be reached.
   *
   * @example
   * ```ts
   * const lock = await backend.acquireLock("deploy", { timeoutMs: 30_000, holder: { purpose: "deploy" } });
   * try {
   *   await deploy({ signal: lock.signal });
   * } finally {
   *   await lock.release();
   * }
   * ```
   */
  acquireLock(name: string, options?: RemoteLockOptions): Promise<RemoteLockHandle> {
    const r = this.#request(name, options);
    if (this.#parts.ctx.closed) return Promise.reject(closedError());
    if (r.signal?.aborted) return Promise.reject(new AbortError(r.signal.reason));
    return this.#parts.locks.acquire(r);
  }

  /**
   * Takes the lock only if it is free right now (in this process and on the server);
   * resolves `undefined` otherwise. Never waits for a holder and never jumps a queue.
   *
   * **Guarantee / Fairness:** as {@link PostgresBackend.acquireLock}.
   * **Cancellation:** nothing to cancel.
   *
   * @example
   * ```ts
   * const lock = await backend.tryAcquireLock("nightly-report");
   * if (lock === undefined) return console.log("another host runs it");
   * await using _ = lock;
   * ```
   */
  tryAcquireLock(
    name: string,
    options?: TryRemoteLockOptions,
  ): Promise<RemoteLockHandle | undefined> {
    const r = this.#request(name, { mode: options?.mode, holder: options?.holder });
    if (this.#parts.ctx.closed) return Promise.reject(closedError());
    return this.#parts.locks.tryAcquire(r);
  }

  /**
   * Runs `fn(lock)` while holding `name`, and releases it however `fn` ends: acquire +
   * `try { return await fn(lock) } finally { await lock.release() }`. Pass `lock.signal`
   * to the work and `lock.token` to fenced writes. If the lock was lost, the release
   * rejects with the `LockLostError` (unless `fn` threw: its error wins).
   *
   * **Guarantee / Fairness / Cancellation:** as {@link PostgresBackend.acquireLock};
   * `signal` and `timeoutMs` bound the wait, not `fn`.
   *
   * @example
   * ```ts
   * await backend.withLock("invoices", async (lock) => {
   *   await invoices.update((s) => bill(s), { fence: lock.token });
   * });
   * ```
   */
  async withLock<T>(
    name: string,
    fn: (lock: RemoteLockHandle) => T | PromiseLike<T>,
    options?: RemoteLockOptions,
  ): Promise<Awaited<T>> {
    if (typeof fn !== "function") throw new TypeError("Expected `fn` to be a function");
    const lock = await this.acquireLock(name, options);
    let result: Awaited<T>;
    try {
      result = await fn(lock);
    } catch (err) {
      await lock.release().catch(() => {});
      throw err;
    }
    await lock.release();
    return result;
  }

  /**
   * Who holds `name` right now, on any host: the exclusive holder, or one of the
   * shared holders; `undefined` when nobody holds it (or only a program other than
   * interlock does). Read from `pg_locks` (the server's own lock table, so a holder that
   * died is never reported) joined with the row of the holder's lock session (pid, host),
   * and, once the hold has lasted 25 ms, its grant record (`token`, `acquiredAt`, the
   * `holder` fields): short holds are not worth a write.
   *
   * @example
   * ```ts
   * const h = await backend.readLockHolder("deploy");
   * console.log(h ? `held by pid ${h.pid} on ${h.hostname} (${h.purpose ?? "no purpose"})` : "free");
   * ```
   */
  async readLockHolder(name: string): Promise<RemoteLockHolder | undefined> {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`Expected \`name\` to be a non-empty string, got ${describe(name)}`);
    }
    if (this.#parts.ctx.closed) throw closedError();
    return readHolder(this.#parts.ctx, advisoryKey("lock", this.namespace, name), name);
  }

  /**
   * A JSON state value stored under `key` in this namespace; see {@link PostgresStateStore}.
   *
   * @throws {TypeError} synchronously for a bad key, missing `defaults` or a `validate`
   *   that is not a function.
   *
   * @example
   * ```ts
   * const counters = backend.stateStore("counters", { defaults: { builds: 0 } });
   * await counters.update((s) => ({ builds: s.builds + 1 }));
   * ```
   */
  stateStore<T>(key: string, options: StateStoreOptions<T>): PostgresStateStore<T> {
    if (typeof key !== "string" || key === "") {
      throw new TypeError(`Expected \`key\` to be a non-empty string, got ${describe(key)}`);
    }
    if (typeof options !== "object" || options === null || !("defaults" in options)) {
      throw new TypeError("Expected `options.defaults`: the state while the key was never written");
    }
    try {
      JSON.stringify(options.defaults);
      structuredClone(options.defaults);
    } catch (err) {
      throw new TypeError("Expected `defaults` to be JSON data", { cause: err });
    }
    if (options.validate !== undefined && typeof options.validate !== "function") {
      throw new TypeError(
        `Expected \`validate\` to be a function, got ${describe(options.validate)}`,
      );
    }
    return new PostgresStateStore<T>(this.#parts.ctx, key, options);
  }

  /**
   * A registry of ids and slots named `name` in this namespace; see {@link PostgresRegistry}.
   *
   * @example
   * ```ts
   * const sessions = backend.registry<{ port: number }>("sessions");
   * ```
   */
  registry<D = unknown>(name: string, options?: PostgresRegistryOptions): PostgresRegistry<D> {
    if (typeof name !== "string" || name === "") {
      throw new TypeError(`Expected \`name\` to be a non-empty string, got ${describe(name)}`);
    }
    if (options?.format !== undefined && typeof options.format !== "function") {
      throw new TypeError(
        `Expected \`format\` to be a function (base, n) => id, got ${describe(options.format)}`,
      );
    }
    return new PostgresRegistry<D>(this.#parts.ctx, name, options);
  }

  /**
   * Closes every connection of this backend. Held locks end (their `signal` aborts with
   * `LockLostError`, reason `"closed"`), the server releases them, and every later call
   * fails with `EPGCLOSED`. Idempotent.
   *
   * @example
   * ```ts
   * process.once("SIGTERM", () => void backend.close());
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#parts.ctx.closed = true;
      await this.#parts.sessions.close();
      await this.#parts.pool.end();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
