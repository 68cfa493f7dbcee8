// One request of a LockManager from its first attempt to its release: waiting through
// the file-lock engine, registering the wait where other processes can see it, holding
// while the callback runs, and the in-thread parking that lets `steal` go first.
import { AbortError, hasCode, LockTimeoutError } from "../errors.js";
import { acquireFileLock, type FileLockHandle } from "../file-lock/index.js";
import { type AbortSubscriber, subscribe, unsubscribe } from "../internal/abort-watch.js";
import { isThenable } from "../internal/thenable.js";
import { type Client, dropIfIdle, type NameQueue } from "./client.js";
import { describeHolders } from "./errors.js";
import {
  hostname,
  ownStartTime,
  type RegistryEntry,
  removeEntry,
  replaceEntry,
  requestId,
  writeEntry,
} from "./registry.js";
import { holdersOf } from "./snapshot.js";
import type { Lock, LockMode } from "./types.js";

/**
 * The reason a steal aborts the engine waits it parks; recognized by identity in the
 * engine's AbortError `cause`, never shown to a caller.
 */
const PARKED: unknown = Object.freeze({ parkedBySteal: true });

export class LockRequest implements AbortSubscriber {
  state: "pending" | "held" | "done" = "pending";
  /** Waiting since, then held since (ms since the epoch). */
  since = Date.now();
  /** The current engine attempt; replaced when a steal parks and re-issues it. */
  attempt: Promise<FileLockHandle> | undefined = undefined;
  handle: FileLockHandle | undefined = undefined;
  /**
   * Only requests that arrive while this thread already has a request for the name can
   * be queued behind another of ours, so only they get a controller a steal can park
   * them with; the uncontended path allocates nothing for it.
   */
  park: AbortController | undefined = undefined;
  /** Our registry entry, once the wait lasted a turn of the event loop, or while shared-held. */
  entryPath: string | undefined = undefined;
  /** Set when a steal revoked this holder: the error its request rejects with. */
  stolen: AbortError | undefined = undefined;
  /** Rejects the wait for the callback's promise at once, when stolen. */
  interrupt: ((err: unknown) => void) | undefined = undefined;
  readonly deadline: number | undefined;
  /** The fields the engine writes into the lock file's record for an exclusive holder. */
  readonly record: Record<string, unknown>;

  constructor(
    readonly client: Client,
    readonly q: NameQueue,
    readonly mode: LockMode,
    readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number | undefined,
    readonly holder: Record<string, unknown> | undefined,
  ) {
    this.seq = ++client.seq;
    this.id = requestId(client.clientId, this.seq);
    this.deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
    this.record = recordOf(q, this.id, holder);
  }

  readonly seq: number;
  /** Unique across processes: names the registry entry, and matches it to the record. */
  readonly id: string;

  /** Its signal aborted: a wait with a park controller gives up through it. */
  abortWith(reason: unknown): void {
    this.park?.abort(reason);
  }
}

/**
 * The fields a LockManager adds to the engine's holder record, as few and short as
 * possible: the uncontended request serializes and writes them on every grant, and
 * reads them back on the next. The request id says who (client id and sequence); the
 * name is the lock file's own, except for long names, whose file name is a hash.
 * `purpose` also at the top, where the engine's own timeout messages look for it.
 */
function recordOf(
  q: NameQueue,
  id: string,
  holder: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const record: Record<string, unknown> = { lockRequest: id };
  if (q.hashed) record.lockName = q.name;
  if (holder !== undefined) {
    if (typeof holder.purpose === "string") record.purpose = holder.purpose;
    record.holder = holder;
  }
  return record;
}

function remaining(req: LockRequest): number | undefined {
  return req.deadline === undefined ? undefined : Math.max(0, req.deadline - performance.now());
}

/** Calls the engine: the request's place in this thread's FIFO queue is taken here. */
function issue(req: LockRequest): void {
  req.attempt = acquireFileLock(req.q.path, {
    mode: req.mode,
    holder: req.record,
    signal: req.park === undefined ? req.signal : req.park.signal,
    timeoutMs: remaining(req),
  });
}

function unwatch(req: LockRequest): void {
  if (req.signal !== undefined && req.park !== undefined) unsubscribe(req.signal, req);
}

/**
 * Starts the wait synchronously, so requests of one thread reach the engine's FIFO queue
 * in the order they were made. Throws (after cleaning up) what the engine throws
 * synchronously. A stealer is not `parkable`: nothing of ours may go before it.
 */
export function start(req: LockRequest, parkable = true): void {
  if (parkable && req.q.requests.size > 1) {
    req.park = new AbortController();
    // One abort listener per signal, however many requests share it (abort-watch.ts).
    if (req.signal !== undefined) subscribe(req.signal, req);
  }
  try {
    issue(req);
  } catch (err) {
    finish(req);
    throw err;
  }
  watchWait(req);
}

function entryOf(req: LockRequest, state: "pending" | "held"): RegistryEntry {
  const entry: RegistryEntry = {
    id: req.id,
    seq: req.seq,
    state,
    name: req.q.name,
    mode: req.mode,
    clientId: req.client.clientId,
    pid: process.pid,
    hostname: hostname(),
    since: req.since,
  };
  const start = ownStartTime();
  if (start !== undefined) entry.processStartTime = start;
  if (req.holder !== undefined) entry.holder = req.holder;
  return entry;
}

// Requests started in this turn of the event loop and not granted yet. The uncontended
// path is granted within microtasks, before the turn ends; whatever is still here when
// the turn's immediate fires has really waited, and only then is its wait written down.
// One immediate per turn for all of them, not one per request.
const starting = new Set<LockRequest>();
let flushScheduled = false;

function watchWait(req: LockRequest): void {
  starting.add(req);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(registerWaits);
  }
}

function registerWaits(): void {
  flushScheduled = false;
  for (const req of starting) {
    if (req.state === "pending" && req.entryPath === undefined) {
      req.entryPath = writeEntry(req.q.dir, entryOf(req, "pending"));
    }
  }
  starting.clear();
}

/**
 * The rest of a wait whose first engine attempt did not simply grant: it rejected, or a
 * steal parked it (and issued it again), or our signal fired between the engine's
 * grant and now. Loops through re-issued attempts to a handle this request may use.
 */
async function settle(
  req: LockRequest,
  attempt: Promise<FileLockHandle>,
  failed: boolean,
  outcome: unknown,
): Promise<FileLockHandle> {
  for (;;) {
    if (failed) {
      // Parked by a steal and issued again behind it: wait for the new attempt.
      if (attempt === req.attempt) {
        if (hasCode(outcome, "ABORT_ERR")) {
          // Ours (forwarded to the park controller) or parked and not issued again
          // because our signal had fired: either way, our signal's abort.
          throw new AbortError(req.signal?.reason ?? (outcome as Error).cause);
        }
        if (hasCode(outcome, "ELOCKTIMEOUT")) throw await timeoutError(req, outcome);
        throw outcome;
      }
    } else {
      const handle = outcome as FileLockHandle;
      // Granted just as a steal parked us: the stealer is queued behind this handle.
      if (attempt !== req.attempt) await handle.release();
      else if (req.signal?.aborted) {
        // Aborted between the engine's grant and now: never granted, as far as the
        // caller can tell (the Web Locks "synchronously signaled abort").
        await handle.release();
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

async function timeoutError(req: LockRequest, cause: unknown): Promise<LockTimeoutError> {
  let who: string;
  try {
    who = describeHolders(await holdersOf(req.q.dir, req.q.name, req.client, true));
  } catch {
    who = "held by a holder that could not be read";
  }
  return new LockTimeoutError(
    req.timeoutMs!,
    `Timed out after ${req.timeoutMs} ms waiting for the ${req.mode} lock ${JSON.stringify(req.q.name)} (lock manager in ${req.q.dir}): ${who}`,
    { cause },
  );
}

/** Marks the request held and writes down what other processes cannot see otherwise. */
export function grant(req: LockRequest, handle: FileLockHandle): void {
  req.state = "held";
  req.handle = handle;
  req.since = Date.now();
  starting.delete(req);
  if (req.mode === "shared") {
    // The engine keeps no record of shared holders: the registry does.
    const entry = entryOf(req, "held");
    req.entryPath =
      req.entryPath === undefined
        ? writeEntry(req.q.dir, entry)
        : replaceEntry(req.entryPath, entry);
  } else if (req.entryPath !== undefined) {
    // The lock file's holder record shows us now.
    removeEntry(req.entryPath);
    req.entryPath = undefined;
  }
}

function lockOf(req: LockRequest, handle: FileLockHandle): Lock {
  return { name: req.q.name, mode: req.mode, token: handle.token };
}

const ignore = () => {};

/**
 * A request from its engine attempt (`req.attempt`, already issued) to its end: wait
 * for the grant, run the callback while the lock is held, release once the callback's
 * promise settles (or at once if it throws). Resolves or rejects as the callback did,
 * unless a steal revoked the lock first: then at once with that AbortError.
 *
 * When the attempt is a try that found the lock busy (it resolves `undefined`), the
 * request leaves the queue and `busy()` answers instead.
 *
 * One async function and one await to the callback on the uncontended path: it runs on
 * every request, and callbacks granted at once run in request order whatever the path.
 */
export async function run<T>(
  req: LockRequest,
  callback: (lock: Lock) => T | PromiseLike<T>,
  busy?: () => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  let handle: FileLockHandle | undefined;
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
  try {
    const result = callback(lockOf(req, handle));
    if (isThenable(result)) {
      if (req.stolen !== undefined) {
        result.then(undefined, ignore);
        throw req.stolen;
      }
      return await new Promise<Awaited<T>>((resolve, reject) => {
        req.interrupt = reject;
        result.then(resolve as (v: unknown) => void, reject);
      });
    }
    if (req.stolen !== undefined) throw req.stolen;
    return result as Awaited<T>;
  } finally {
    const released = finish(req);
    if (released !== undefined) await released;
  }
}

/**
 * Leaves the queue and gives back what the request took: the lock (unless a steal took
 * it already) and then the registry entry (released first: a query in between may show
 * a holder that just left, never miss one that is still there). Returns the release's
 * promise, if there is one to wait for.
 */
export function finish(req: LockRequest): Promise<void> | undefined {
  req.state = "done";
  req.q.requests.delete(req);
  dropIfIdle(req.client, req.q);
  starting.delete(req);
  unwatch(req);
  req.interrupt = undefined;
  const handle = req.stolen === undefined ? req.handle : undefined;
  req.handle = undefined;
  const entry = req.entryPath;
  req.entryPath = undefined;
  if (handle === undefined) {
    if (entry !== undefined) removeEntry(entry);
    return undefined;
  }
  if (entry === undefined) return handle.release();
  return handle.release().finally(() => removeEntry(entry));
}

/**
 * Takes this thread's waiters for `q` out of the engine's queue (their attempts reject
 * with PARKED), so that a steal can reach the head. Returns them, in order, for
 * {@link resume}. Uncontended requests have no controller and stay where they are: they
 * are at the head of the engine queue already, waiting for another process.
 */
export function park(q: NameQueue, except: LockRequest): LockRequest[] {
  const parked: LockRequest[] = [];
  for (const r of q.requests) {
    if (r === except || r.state !== "pending" || r.park === undefined) continue;
    parked.push(r);
    r.park.abort(PARKED);
  }
  return parked;
}

/** Puts parked waiters back into the engine's queue, in their order, behind the stealer. */
export function resume(parked: LockRequest[]): void {
  for (const r of parked) {
    if (r.state !== "pending") continue;
    // Its signal fired meanwhile: leave the parked attempt as its last, an abort.
    if (r.signal?.aborted) continue;
    r.park = new AbortController();
    try {
      issue(r);
    } catch (err) {
      r.attempt = Promise.reject(err);
    }
  }
}

/** A steal takes the lock from `h`: its request rejects now, its lock goes now. */
export function revoke(h: LockRequest, by: string): void {
  h.stolen = new AbortError(
    undefined,
    `The lock ${JSON.stringify(h.q.name)} was stolen by a request with { steal: true } (${by}); this holder no longer holds it`,
  );
  h.interrupt?.(h.stolen);
  const handle = h.handle;
  h.handle = undefined;
  void handle?.release().catch(ignore);
}
