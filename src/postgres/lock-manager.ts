import { AbortError } from "../errors.js";
import { LockStealError } from "../locks/errors.js";
import { parseRequest } from "../locks/request-options.js";
import type {
  LockGrantedCallback,
  LockManagerLike,
  LockManagerSnapshot,
  LockRequestOptions,
} from "../locks/types.js";
import type { BackendContext } from "./context.js";
import { advisoryKey } from "./keys.js";
import {
  finish,
  type LockClient,
  ManagedRequest,
  type PostgresLock,
  park,
  resume,
  revoke,
  run,
  start,
  tryIssue,
} from "./lock-manager-request.js";
import { RequestRows } from "./lock-manager-rows.js";
import { othersHolding, snapshot } from "./lock-manager-snapshot.js";
import type { LockTable } from "./lock-table.js";
import { closedError } from "./session-pool.js";

/**
 * `backend.locks`: the Web Locks API (`navigator.locks`) on PostgreSQL, shared by every
 * client of the database in this backend's namespace, on every host. The same
 * `request(name, options?, callback)` and `query()` as interlock's file-lock
 * {@link LockManager} (both implement {@link LockManagerLike}), built on the backend's
 * own locks: the same names as `backend.acquireLock(name)` (they exclude each other),
 * the server's FIFO queue, fencing tokens and lost-lock signals.
 *
 * **Guarantee:** while a callback runs with a lock, no other holder anywhere (any
 * process on any host using this namespace) holds a conflicting lock of that name
 * (exclusive excludes everyone, shared excludes exclusive), unless the lock was lost
 * (then `lock.signal` aborts with a `LockLostError` at once, and the request rejects
 * with it once the callback is done) or revoked by a `steal` in this backend; each
 * grant's `token` is greater than every earlier grant's of that name, across clients,
 * hosts and server restarts.
 *
 * **Fairness:** FIFO: requests of this backend queue in arrival order per name
 * (adjacent shared ones together), then on the server's queue, which grants in arrival
 * order across clients and batches adjacent shared requests (a `steal` goes first in
 * this backend).
 *
 * **Cancellation:** `signal` and `timeoutMs` bound the whole wait, this process's queue
 * and the server's; an aborted or timed-out request is never granted (a grant that
 * races the abort is undone), its callback never runs, and it leaves no waiter on the
 * server. Once granted, the lock is held until the callback's promise settles; `signal`
 * no longer has any effect (`lock.signal` is the lock's own).
 *
 * **Stealing:** `{ steal: true }` revokes the holders of the name *in this backend*
 * (their requests reject with an `AbortError`, their callbacks keep running without the
 * lock, their `lock.signal` aborts, and their tokens are older than the stealer's) and
 * goes ahead of this backend's waiters. Another client's session lock cannot be revoked
 * (only a superuser could end its session, and its holder would not know why): when the
 * lock is held by another client, the steal rejects with {@link LockStealError} naming
 * the holders, and nothing is revoked.
 *
 * **query():** every host's held and pending requests of this namespace, from
 * `pg_locks` joined with what each session records (see docs/postgres.md): a client
 * that died or lost its connection never shows.
 *
 * @example
 * ```ts
 * const backend = await connectPostgres({ connectionString: process.env.DATABASE_URL!, namespace: "ci" });
 * await backend.locks.request("deploy", { timeoutMs: 60_000, holder: { purpose: "deploy" } }, async (lock) => {
 *   await deploy({ signal: lock.signal, fence: lock.token });
 * });
 * const { held, pending } = await backend.locks.query(); // every host's view
 * ```
 */
export class PostgresLockManager implements LockManagerLike {
  readonly #client: LockClient;

  /** @internal Use `backend.locks`. */
  constructor(ctx: BackendContext, table: LockTable) {
    this.#client = {
      ctx,
      table,
      rows: new RequestRows(ctx.pool, ctx.s, ctx.clientId, ctx.owner.hostname, ctx.owner.pid),
      clientId: ctx.clientId,
      seq: 0,
      queues: new Map(),
    };
  }

  /** This backend's client id, as `query()` reports it for its requests. */
  get clientId(): string {
    return this.#client.clientId;
  }

  /**
   * Requests the lock `name`, runs `callback` with it, and releases it once the promise
   * `callback` returns settles. Resolves or rejects as that promise does; if the lock
   * was lost meanwhile and the callback did not throw, rejects with the `LockLostError`.
   *
   * With `ifAvailable`, `callback` runs with `null` at once if the lock is held or
   * waited for (in this backend, or held on the server); with `steal`, see the class
   * notes.
   *
   * @param name Any string, except one starting with `-` (reserved, as in the Web Locks API).
   * @param options `mode`, `ifAvailable`, `steal`, `signal`, `timeoutMs`, `holder`.
   * @param callback Runs while the lock is held; gets `{ name, mode, token, signal }` (or `null`).
   * @throws {TypeError} / {RangeError} / {NotSupportedError} synchronously, as
   *   {@link LockManager.request} does.
   * @throws {AbortError} (rejection) when `signal` aborts the wait (`cause` is its
   *   reason), or when a steal in this backend revoked the lock.
   * @throws {LockTimeoutError} (rejection) when `timeoutMs` elapses; names the holder.
   * @throws {LockStealError} (rejection) when `steal` finds the lock held by another client.
   * @throws {LockLostError} (rejection) when the lock was lost while the callback ran.
   * @throws {PostgresConnectionError} (rejection) `EPGCLOSED` once the backend is closed,
   *   or the driver's error when the server cannot be reached.
   * @throws whatever `callback` throws or rejects with; the lock is released first.
   *
   * @example
   * ```ts
   * const ran = await backend.locks.request("nightly", { ifAvailable: true }, async (lock) => {
   *   if (lock === null) return false; // another host runs it
   *   await nightly({ signal: lock.signal });
   *   return true;
   * });
   * ```
   */
  request<T>(name: string, callback: LockGrantedCallback<T, PostgresLock>): Promise<Awaited<T>>;
  request<T>(
    name: string,
    options: LockRequestOptions & { ifAvailable?: false | undefined },
    callback: LockGrantedCallback<T, PostgresLock>,
  ): Promise<Awaited<T>>;
  request<T>(
    name: string,
    options: LockRequestOptions,
    callback: LockGrantedCallback<T, PostgresLock | null>,
  ): Promise<Awaited<T>>;
  request<T>(
    name: string,
    optionsOrCallback: unknown,
    maybeCallback?: unknown,
  ): Promise<Awaited<T>> {
    const { options: o, callback } = parseRequest(name, optionsOrCallback, maybeCallback);
    const client = this.#client;
    if (client.ctx.closed) return Promise.reject(closedError());
    let q = client.queues.get(name);
    if (q === undefined) {
      q = { name, key: advisoryKey("lock", client.ctx.namespace, name), requests: new Set() };
      client.queues.set(name, q);
    }
    const req = new ManagedRequest(
      client,
      q,
      o.mode,
      o.signal,
      o.timeoutMs,
      o.holder,
      o.holderJson ?? null,
    );
    q.requests.add(req);
    const cb = callback as (lock: PostgresLock | null) => T | PromiseLike<T>;
    if (o.steal) return steal(req, cb);
    if (o.ifAvailable) {
      tryIssue(req);
      return run(req, cb, () => cb(null));
    }
    if (o.signal?.aborted) {
      finish(req);
      return Promise.reject(new AbortError(o.signal.reason));
    }
    start(req);
    return run(req, cb);
  }

  /**
   * Who holds and who waits for the locks of this namespace, on every host: `{ held,
   * pending }`, each entry `{ name, mode, clientId, pid, hostname, since, holder? }`,
   * oldest first (`pid` and `hostname` are the client process's). A snapshot: it may be
   * stale by the time you read it. Entries of clients that died or lost their
   * connection never show: everything is read next to `pg_locks`.
   *
   * What shows: every `request()` holding or waiting (this backend's from memory); a
   * request of another client that has just been granted shows once (held); a request
   * queued behind another request of its own client shows once it has waited a turn of
   * its event loop. Holds taken with `backend.acquireLock` in this namespace show once
   * their holder record is written (after 25 ms); its waiters do not show.
   *
   * Cost: one statement on the backend's pool (pg_locks and two small tables).
   *
   * @throws {PostgresConnectionError} `EPGCLOSED` once the backend is closed.
   *
   * @example
   * ```ts
   * const { held, pending } = await backend.locks.query();
   * for (const w of pending.filter((p) => p.name === "index")) {
   *   console.log(`pid ${w.pid} on ${w.hostname} waits for index since ${new Date(w.since).toISOString()}`);
   * }
   * ```
   */
  query(): Promise<LockManagerSnapshot> {
    if (this.#client.ctx.closed) return Promise.reject(closedError());
    return snapshot(this.#client);
  }
}

async function steal<T>(
  req: ManagedRequest,
  callback: (lock: PostgresLock) => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  const { q, client } = req;
  try {
    // Grants this backend has been told of but has not observed yet (their callbacks
    // are a few microtasks away) must count as holders: decide after a turn of the loop.
    await new Promise((resolve) => setImmediate(resolve));
    // Another client's hold cannot be revoked: refuse before revoking anything (shared
    // holders elsewhere would keep the lock after ours are revoked).
    const others = await othersHolding(client, q.name, q.key);
    if (others !== undefined) throw new LockStealError(q.name, others, "postgres");
    const victims = [...q.requests].filter(
      (r) => r !== req && r.state === "held" && r.stolen === undefined,
    );
    const parked = park(q, req);
    for (const v of victims) revoke(v, `client ${client.clientId}, request ${req.seq}`);
    start(req, false);
    resume(parked);
  } catch (err) {
    await finish(req);
    throw err;
  }
  return await run(req, callback);
}
