// One request of backend.locks from its first attempt to its release: waiting through
// the backend's lock table (this process's FIFO queue, then the server's), making the
// wait visible to other hosts when it queues behind a request of this process, holding
// while the callback runs, and the parking that lets `steal` go first. The same shape as
// src/locks/request.ts, with the backend's lock handles as the engine.
import { AbortError, hasCode } from "../errors.js";
import { type AbortSubscriber, subscribe, unsubscribe } from "../internal/abort-watch.js";
import { isThenable } from "../internal/thenable.js";
import type { BackendContext } from "./context.js";
import type { RequestRows } from "./lock-manager-rows.js";
import type { RequestTag } from "./lock-manager-statements.js";
import type { LockTable } from "./lock-table.js";
import type { RemoteLock, RemoteLockMode } from "./remote-lock.js";

/**
 * The lock a callback of `backend.locks.request()` holds: the Web Locks `{ name, mode,
 * token }` plus `signal`, the lock's own AbortSignal. `token` is the grant's fencing
 * token; `signal` aborts with a `LockLostError` the moment the lock is known lost
 * (connection ended, heartbeat failed, lease deadline passed), or with an
 * `ELOCKRELEASED` error once it is released (or revoked by a `steal` in this process).
 *
 * @example
 * ```ts
 * await backend.locks.request("nightly", async (lock: PostgresLock) => {
 *   await render({ signal: lock.signal }); // stops if the lock is lost
 *   await report.update(publish, { fence: lock.token });
 * });
 * ```
 */
export interface PostgresLock {
  readonly name: string;
  readonly mode: RemoteLockMode;
  /** The fencing token of this grant (see {@link RemoteLockHandle.token}). */
  readonly token: number;
  /** Aborts when the lock ends: lost (`LockLostError`) or released. */
  readonly signal: AbortSignal;
}

/** A backend's LockManager state: its client id and every request it has in flight. */
export interface LockClient {
  readonly ctx: BackendContext;
  readonly table: LockTable;
  readonly rows: RequestRows;
  readonly clientId: string;
  seq: number;
  /** Lock name → its queue (see finish for idle ones). */
  readonly queues: Map<string, NameQueue>;
}

/** The requests of one name in this client, in arrival order. */
export interface NameQueue {
  readonly name: string;
  /** Advisory key of the name. */
  readonly key: string;
  readonly requests: Set<ManagedRequest>;
}

/**
 * The reason a steal aborts the waits it parks; recognized by identity in the lock
 * table's AbortError `cause`, never shown to a caller.
 */
const PARKED: unknown = Object.freeze({ parkedBySteal: true });

class GrantedLock implements PostgresLock {
  readonly #handle: RemoteLock;
  constructor(
    readonly name: string,
    readonly mode: RemoteLockMode,
    readonly token: number,
    handle: RemoteLock,
  ) {
    this.#handle = handle;
  }

  // A getter, not a field: the handle makes its AbortController only when asked.
  get signal(): AbortSignal {
    return this.#handle.signal;
  }
}

export class ManagedRequest implements AbortSubscriber {
  state: "pending" | "held" | "done" = "pending";
  /** Waiting since, then held since (ms since the epoch). */
  since = Date.now();
  /** The current attempt; replaced when a steal parks and re-issues it. */
  attempt: Promise<RemoteLock | undefined> | undefined = undefined;
  handle: RemoteLock | undefined = undefined;
  /** Its attempt is a try (ifAvailable): it never waits, and is never parked. */
  tries = false;
  /** Lets a steal take the request out of the queue (see start). */
  park: AbortController | undefined = undefined;
  /** The last write of its lock_requests row (insert, then delete), if it has one. */
  row: Promise<void> | undefined = undefined;
  /** Its row is still ours to delete (not yet deleted, nor owned by a shared hold). */
  rowOwned = false;
  /** Set when a steal revoked this holder: the error its request rejects with. */
  stolen: AbortError | undefined = undefined;
  /** Rejects the wait for the callback's promise at once, when stolen. */
  interrupt: ((err: unknown) => void) | undefined = undefined;
  readonly deadline: number | undefined;
  readonly seq: number;
  /** Its current attempt's tag (each attempt has its own: a parked one may still run). */
  tag: RequestTag;

  constructor(
    readonly client: LockClient,
    readonly q: NameQueue,
    readonly mode: RemoteLockMode,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number | undefined,
    readonly holder: Record<string, unknown> | undefined,
    /** `holder` as JSON text, as the statements store it. */
    readonly holderJson: string | null,
  ) {
    this.seq = ++client.seq;
    const now = performance.now();
    this.deadline = timeoutMs === undefined ? undefined : now + timeoutMs;
    this.tag = {
      client: client.clientId,
      seq: this.seq,
      started: now,
      atServer: false,
      waited: false,
      joined: false,
    };
  }

  /** Its signal aborted: a wait with a park controller gives up through it. */
  abortWith(reason: unknown): void {
    this.park?.abort(reason);
  }
}

function remaining(req: ManagedRequest): number | undefined {
  return req.deadline === undefined ? undefined : Math.max(0, req.deadline - performance.now());
}

const MAX_TIMER = 2 ** 31 - 1;

/** Idle name queues kept per client for reuse; beyond this, idle ones are forgotten. */
const KEEP_IDLE = 256;

/** The lock table's view of this request, for a new attempt (with a new tag). */
function lockRequest(req: ManagedRequest, signal: AbortSignal | undefined) {
  const timeoutMs = remaining(req);
  if (req.attempt !== undefined)
    req.tag = { ...req.tag, atServer: false, waited: false, joined: false };
  return {
    name: req.q.name,
    key: req.q.key,
    mode: req.mode,
    holder: req.holderJson,
    signal,
    timeoutMs,
    deadline:
      timeoutMs === undefined || timeoutMs > MAX_TIMER
        ? Number.POSITIVE_INFINITY
        : performance.now() + timeoutMs,
    tag: req.tag,
  };
}

/** Asks the lock table: the request's place in this process's FIFO queue is taken here. */
function issue(req: ManagedRequest): void {
  req.attempt = req.client.table.acquire(
    lockRequest(req, req.park === undefined ? req.signal : req.park.signal),
  );
}

/** Asks the lock table for the lock only if it is free right now. */
export function tryIssue(req: ManagedRequest): void {
  req.tries = true;
  req.attempt = req.client.table.tryAcquire(lockRequest(req, undefined));
}

function unwatch(req: ManagedRequest): void {
  if (req.signal !== undefined && req.park !== undefined) unsubscribe(req.signal, req);
}

/**
 * Starts the wait synchronously, so requests of one client reach the lock table's FIFO
 * queue in the order they were made. A stealer is not `parkable`: nothing of ours may
 * go before it. Only requests that arrive while this client already has a request for
 * the name can be queued behind another of ours, so only they get a controller a steal
 * can park them with (an AbortController per request is a tenth of an uncontended
 * cycle); see park() for the others.
 */
export function start(req: ManagedRequest, parkable = true): void {
  if (parkable && req.q.requests.size > 1) {
    req.park = new AbortController();
    // One abort listener per signal, however many requests share it (abort-watch.ts).
    if (req.signal !== undefined) subscribe(req.signal, req);
  }
  issue(req);
  watchWait(req);
}

// Requests started in this turn of the event loop that have not reached the server. The
// head of a name's queue reaches it within the turn (its session's record describes it
// from its first statement on); whatever is still here, and not at the server, when the
// turn's immediate fires is queued behind a request of ours, and only then is its wait
// written down, in one statement for all of them.
const starting = new Set<ManagedRequest>();
let flushScheduled = false;

function watchWait(req: ManagedRequest): void {
  starting.add(req);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(registerWaits);
  }
}

function registerWaits(): void {
  flushScheduled = false;
  const byClient = new Map<LockClient, ManagedRequest[]>();
  for (const req of starting) {
    if (req.state !== "pending" || req.tag.atServer || req.row !== undefined) continue;
    let list = byClient.get(req.client);
    if (list === undefined) byClient.set(req.client, (list = []));
    list.push(req);
  }
  starting.clear();
  for (const [client, reqs] of byClient) {
    if (client.ctx.closed) continue;
    const written = client.rows.insert(
      reqs.map((r) => ({
        seq: r.seq,
        key: r.q.key,
        name: r.q.name,
        mode: r.mode,
        started: r.tag.started,
        holder: r.holderJson,
      })),
    );
    for (const r of reqs) {
      r.row = written;
      r.rowOwned = true;
    }
  }
}

/**
 * The rest of a wait whose first attempt did not simply grant: it rejected, or a steal
 * parked it (and issued it again), or our signal fired between the grant and now.
 * Loops through re-issued attempts to a handle this request may use.
 */
async function settle(
  req: ManagedRequest,
  attempt: Promise<RemoteLock | undefined>,
  failed: boolean,
  outcome: unknown,
): Promise<RemoteLock | undefined> {
  for (;;) {
    if (failed) {
      if (attempt === req.attempt) {
        if (hasCode(outcome, "ABORT_ERR")) {
          // Ours (forwarded to the park controller) or parked and not issued again
          // because our signal had fired: either way, our signal's abort.
          throw new AbortError(req.signal?.reason ?? (outcome as Error).cause);
        }
        throw outcome;
      }
    } else {
      const handle = outcome as RemoteLock | undefined;
      // Granted just as a steal parked us: the stealer is queued behind this handle.
      if (attempt !== req.attempt) await handle?.release().catch(ignore);
      else if (req.signal?.aborted && handle !== undefined) {
        // Aborted between the grant and now: never granted, as far as the caller can
        // tell (the Web Locks "synchronously signaled abort").
        await handle.release().catch(ignore);
        throw new AbortError(req.signal.reason);
      } else return handle;
    }
    attempt = req.attempt!;
    try {
      outcome = await attempt;
      failed = false;
    } catch (err) {
      outcome = err;
      failed = true;
    }
  }
}

function grant(req: ManagedRequest, handle: RemoteLock): void {
  req.state = "held";
  req.handle = handle;
  req.since = Date.now();
  starting.delete(req);
  if (req.rowOwned) {
    req.rowOwned = false;
    // A shared hold it joined owns the row now (its release deletes it); otherwise the
    // session's record describes the holder and the waiting row goes.
    if (!req.tag.joined) req.row = req.client.rows.remove(req.seq);
  }
}

const ignore = () => {};

/**
 * A request from its attempt (`req.attempt`, already issued) to its end: wait for the
 * grant, run the callback while the lock is held, release once the callback's promise
 * settles (or at once if it throws). Resolves or rejects as the callback did, unless a
 * steal revoked the lock first (then at once with that AbortError), or the lock was lost
 * while the callback ran and the callback did not throw (then with the LockLostError:
 * its work ran without the lock).
 *
 * When the attempt is a try that found the lock busy (it resolves `undefined`), the
 * request leaves the queue and `busy()` answers instead.
 */
export async function run<T>(
  req: ManagedRequest,
  callback: (lock: PostgresLock) => T | PromiseLike<T>,
  busy?: () => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  let handle: RemoteLock | undefined;
  const attempt = req.attempt!;
  try {
    try {
      handle = await attempt;
    } catch (err) {
      handle = await settle(req, attempt, true, err);
    }
    if (handle !== undefined && (attempt !== req.attempt || req.signal?.aborted)) {
      handle = await settle(req, attempt, false, handle);
    }
  } catch (err) {
    await finish(req);
    throw err;
  }
  if (handle === undefined) {
    await finish(req);
    return await busy!();
  }
  grant(req, handle);
  let result: Awaited<T>;
  try {
    const value = callback(new GrantedLock(req.q.name, req.mode, handle.token, handle));
    if (isThenable(value)) {
      if (req.stolen !== undefined) {
        value.then(undefined, ignore);
        throw req.stolen;
      }
      result = await new Promise<Awaited<T>>((resolve, reject) => {
        req.interrupt = reject;
        value.then(resolve as (v: unknown) => void, reject);
      });
    } else {
      if (req.stolen !== undefined) throw req.stolen;
      result = value as Awaited<T>;
    }
  } catch (err) {
    await finish(req)?.catch(ignore);
    throw err;
  }
  await finish(req);
  return result;
}

/**
 * Leaves the queue and gives back what the request took: its row (deleted, or its
 * insert awaited, before the lock goes, so that no row outlives its request where
 * query() would believe it) and the lock (unless a steal took it already). Returns the
 * promise to wait for, if any; it rejects with the LockLostError if the lock was lost.
 */
export function finish(req: ManagedRequest): Promise<void> | undefined {
  req.state = "done";
  req.q.requests.delete(req);
  // Idle queues are kept (a name used again, the common case, reuses its queue and its
  // key's hash) while the client has few of them.
  const { queues } = req.client;
  if (req.q.requests.size === 0 && queues.size > KEEP_IDLE && queues.get(req.q.name) === req.q) {
    queues.delete(req.q.name);
  }
  starting.delete(req);
  unwatch(req);
  req.interrupt = undefined;
  const handle = req.stolen === undefined ? req.handle : undefined;
  req.handle = undefined;
  let row = req.row;
  req.row = undefined;
  if (req.rowOwned) {
    req.rowOwned = false;
    row = req.client.rows.remove(req.seq);
  }
  if (handle === undefined) return row;
  return row === undefined ? handle.release() : row.then(() => handle.release());
}

/**
 * Takes this client's waiters for `q` out of the lock table's queue (their attempts
 * reject with PARKED; one already on the server is cancelled there), so that a steal
 * can reach the head. Returns them, in order, for {@link resume}. A request without a
 * controller was alone when it started: it is at the head, on its way to the server.
 * It cannot be taken out: {@link resume} issues it again behind the stealer, and its
 * first attempt, once granted, is given back at once (see settle), so the stealer
 * (queued behind that attempt) comes first all the same.
 */
export function park(q: NameQueue, except: ManagedRequest): ManagedRequest[] {
  const parked: ManagedRequest[] = [];
  for (const r of q.requests) {
    if (r === except || r.state !== "pending" || r.attempt === undefined || r.tries) continue;
    parked.push(r);
    r.park?.abort(PARKED);
  }
  return parked;
}

/** Puts parked waiters back into the queue, in their order, behind the stealer. */
export function resume(parked: ManagedRequest[]): void {
  for (const r of parked) {
    if (r.state !== "pending") continue;
    // Its signal fired meanwhile: leave the parked attempt as its last, an abort.
    if (r.signal?.aborted) continue;
    r.park = new AbortController();
    issue(r);
    watchWait(r);
  }
}

/** A steal takes the lock from `h`: its request rejects now, its lock goes now. */
export function revoke(h: ManagedRequest, by: string): void {
  h.stolen = new AbortError(
    undefined,
    `The lock ${JSON.stringify(h.q.name)} was stolen by a request with { steal: true } (${by}); this holder no longer holds it`,
  );
  h.interrupt?.(h.stolen);
  const handle = h.handle;
  h.handle = undefined;
  const row = h.row;
  h.row = undefined;
  if (handle === undefined) return;
  void (row === undefined ? handle.release() : row.then(() => handle.release())).catch(ignore);
}
