// The shapes of the Web Locks API as interlock offers them, shared by every backend:
// the file-lock LockManager of this folder, and the PostgreSQL backend's `locks`.
import type { AcquireOptions } from "../internal/options.js";

/**
 * `"exclusive"` (the default): one holder at a time. `"shared"`: any number of shared
 * holders together, and no exclusive one.
 *
 * @example
 * ```ts
 * const mode: LockMode = readOnly ? "shared" : "exclusive";
 * await locks.request("index", { mode }, work);
 * ```
 */
export type LockMode = "exclusive" | "shared";

/**
 * What the callback of {@link LockManagerLike.request} receives while it holds the lock.
 *
 * `token` is a fencing token: a number strictly greater than the token of every earlier
 * grant of this name, across processes and restarts. Pass it along with your writes and
 * let the store refuse a token lower than one it has seen: a holder that stalled (GC
 * pause, SIGSTOP) and lost its lock can then no longer overwrite its successor's work.
 *
 * @example
 * ```ts
 * await locks.request("ledger", async (lock) => {
 *   await store.write(entry, { fence: lock.token });
 * });
 * ```
 */
export interface Lock {
  /** The name passed to `request`. */
  readonly name: string;
  readonly mode: LockMode;
  /** The fencing token of this grant. */
  readonly token: number;
}

/**
 * Options of {@link LockManagerLike.request}: the Web Locks options, plus interlock's
 * `timeoutMs` and `holder`.
 *
 * - `mode`: `"exclusive"` (default) or `"shared"`.
 * - `ifAvailable`: grant only if the lock is free right now (in this thread nobody holds
 *   or waits for it, and no other process or thread holds it); otherwise the callback
 *   runs with `null` at once.
 * - `steal`: take the lock from its holders in this thread; their requests reject with
 *   an `AbortError`. Refused with `LockStealError` when it is held outside this thread.
 * - `signal`: abort the wait (`AbortError`, `cause === signal.reason`). No effect once
 *   granted.
 * - `timeoutMs`: give up the wait after this long (`LockTimeoutError`).
 * - `holder`: JSON fields that describe the holder (`{ purpose: "deploy" }`), shown by
 *   `query()` on every process and in timeout messages.
 *
 * @example
 * ```ts
 * const options: LockRequestOptions = {
 *   mode: "exclusive",
 *   timeoutMs: 30_000,
 *   holder: { purpose: "deploy", release: "v1.4.2" },
 * };
 * ```
 */
export interface LockRequestOptions extends AcquireOptions {
  mode?: LockMode | undefined;
  ifAvailable?: boolean | undefined;
  steal?: boolean | undefined;
  holder?: Record<string, unknown> | undefined;
}

/**
 * One held or pending request in a {@link LockManagerSnapshot}.
 *
 * @example
 * ```ts
 * const { held } = await locks.query();
 * for (const h of held) console.log(`${h.name} ${h.mode} pid ${h.pid}@${h.hostname} since ${new Date(h.since).toISOString()}`);
 * ```
 */
export interface LockInfo {
  name: string;
  mode: LockMode;
  /** Who asked: one id per thread (JavaScript realm) of a process, as in the Web Locks API. */
  clientId: string;
  /** The requesting process, on `hostname`. */
  pid: number;
  hostname: string;
  /** Held since (held entries) or waiting since (pending ones), in ms since the epoch. */
  since: number;
  /** The `holder` fields of the request, if it passed any. */
  holder?: Record<string, unknown>;
}

/**
 * What {@link LockManagerLike.query} returns: the held locks and the waiting requests.
 * Order: by `since`, oldest first.
 *
 * @example
 * ```ts
 * const { held, pending } = await locks.query();
 * console.log(`${held.length} held, ${pending.length} waiting`);
 * ```
 */
export interface LockManagerSnapshot {
  held: LockInfo[];
  pending: LockInfo[];
}

/**
 * The callback of `request`: it runs while the lock is held, and the lock is held until
 * the promise it returns settles.
 *
 * @example
 * ```ts
 * const cb: LockGrantedCallback<number> = async (lock) => (lock ? lock.token : -1);
 * ```
 */
export type LockGrantedCallback<T, L extends Lock | null = Lock | null> = (
  lock: L,
) => T | PromiseLike<T>;

/**
 * The Web Locks `LockManager` shape, implemented by interlock's file-lock
 * {@link LockManager} and by the PostgreSQL backend's `locks`, so code that takes named
 * locks can run against either.
 *
 * @example
 * ```ts
 * async function deployOnce(locks: LockManagerLike, run: () => Promise<void>): Promise<boolean> {
 *   return locks.request("deploy", { ifAvailable: true }, async (lock) => {
 *     if (lock === null) return false;
 *     await run();
 *     return true;
 *   });
 * }
 * ```
 */
export interface LockManagerLike {
  request<T>(name: string, callback: LockGrantedCallback<T, Lock>): Promise<Awaited<T>>;
  request<T>(
    name: string,
    options: LockRequestOptions & { ifAvailable?: false | undefined },
    callback: LockGrantedCallback<T, Lock>,
  ): Promise<Awaited<T>>;
  request<T>(
    name: string,
    options: LockRequestOptions,
    callback: LockGrantedCallback<T, Lock | null>,
  ): Promise<Awaited<T>>;
  query(): Promise<LockManagerSnapshot>;
}
