// The locks of one backend in this process. Requests for one key queue first on an
// in-process FIFO read/write lock, so only the head of that queue (the readers at its
// head, in shared mode) talks to the server: a session is never asked for a lock it
// already holds for someone else (advisory locks are re-entrant per session, which
// would let two holders in). Each held or waited key gets its own library-owned
// session; shared holders of one process ride on one server-side shared hold.
import { AbortError, LockTimeoutError } from "../errors.js";
import { listenForAbort } from "../internal/abort-watch.js";
import type { Releaser } from "../internal/permit.js";
import { KeyedRWLock } from "../keyed-rw-lock.js";
import { sendCancel } from "./cancel.js";
import {
  closedOf,
  type Entry,
  markDone,
  settle,
  settledOf,
  type Unrecorded,
  waitBounded,
} from "./lock-entry.js";
import { type RequestTag, type TagStatements, tagStatements } from "./lock-manager-statements.js";
import { type LockStatements, lockStatements, RECORD_AFTER_MS } from "./lock-statements.js";
import { type HoldOwner, RemoteLock, type RemoteLockMode } from "./remote-lock.js";
import { isConnectionError, type Loss } from "./session.js";
import { closedError, type SessionPool } from "./session-pool.js";

const LOCK_TIMEOUT = "55P03";
const QUERY_CANCELED = "57014";

/** One acquire, as validated by the backend. @internal */
export interface LockRequest {
  name: string;
  key: string;
  mode: RemoteLockMode;
  holder: string | null;
  signal: AbortSignal | undefined;
  timeoutMs: number | undefined;
  /** `performance.now()` when the wait gives up; `Infinity` without `timeoutMs`. */
  deadline: number;
  /** Set for a request of `backend.locks`: its session record or row names it. */
  tag?: RequestTag | undefined;
}

export class LockTable implements HoldOwner {
  readonly #local = new KeyedRWLock<string>();
  readonly #entries = new Map<string, Entry>();
  readonly #sql: LockStatements;
  readonly #tagSql: TagStatements;
  readonly #pool: SessionPool;
  readonly #timeoutError: (r: LockRequest) => Promise<LockTimeoutError>;
  readonly #closed: () => boolean;
  readonly #unrecorded = new Map<Entry, Unrecorded>();
  /** Keys whose name this backend has written to lock_names (bounded; see #named). */
  readonly #named = new Set<string>();

  constructor(
    schema: string,
    pool: SessionPool,
    timeoutError: (r: LockRequest) => Promise<LockTimeoutError>,
    closed: () => boolean,
    owner: { hostname: string; pid: number },
  ) {
    this.#sql = lockStatements(schema);
    this.#tagSql = tagStatements(schema, owner.hostname, owner.pid);
    this.#pool = pool;
    this.#timeoutError = timeoutError;
    this.#closed = closed;
    pool.everyTick((now) => this.#recordDue(now));
  }

  /** Writes the holder record of every hold older than RECORD_AFTER_MS. */
  #recordDue(now: number): void {
    for (const [entry, u] of this.#unrecorded) {
      if (now - u.granted < RECORD_AFTER_MS) continue;
      this.#unrecorded.delete(entry);
      if (!entry.holds.has(u.lock) || entry.unlocking || !entry.session.alive) continue;
      entry.recorded = true;
      if (u.r.tag !== undefined) entry.tagged = u.lock;
      const q = this.#sql.record(
        u.r.key,
        u.r.name,
        u.r.mode,
        u.lock.token,
        u.r.holder,
        now - u.granted,
        u.r.tag?.seq,
      );
      // A failure here is a connection failure, which the session reports itself.
      entry.session.query(q).catch(() => {});
    }
  }

  /** Waits for the lock; see `PostgresBackend.acquireLock`. */
  async acquire(r: LockRequest): Promise<RemoteLock> {
    let local =
      r.mode === "exclusive" ? this.#local.tryWriteLock(r.key) : this.#local.tryReadLock(r.key);
    if (local === undefined) {
      if (r.tag !== undefined) r.tag.waited = true;
      try {
        local = await (r.mode === "exclusive"
          ? this.#local.writeLock(r.key, { signal: r.signal, timeoutMs: r.timeoutMs })
          : this.#local.readLock(r.key, { signal: r.signal, timeoutMs: r.timeoutMs }));
      } catch (err) {
        if (err instanceof LockTimeoutError) throw await this.#timeoutError(r);
        throw err;
      }
    }
    try {
      return await this.#serverSide(r, local, false);
    } catch (err) {
      local.release();
      throw err;
    }
  }

  /** Takes the lock only if it is free now, here and on the server; else `undefined`. */
  async tryAcquire(r: LockRequest): Promise<RemoteLock | undefined> {
    const local =
      r.mode === "exclusive" ? this.#local.tryWriteLock(r.key) : this.#local.tryReadLock(r.key);
    if (local === undefined) return undefined;
    try {
      const lock = await this.#serverSide(r, local, true);
      if (lock === undefined) local.release();
      return lock;
    } catch (err) {
      local.release();
      throw err;
    }
  }

  async #serverSide(
    r: LockRequest,
    local: Releaser,
    tryOnly: true,
  ): Promise<RemoteLock | undefined>;
  async #serverSide(r: LockRequest, local: Releaser, tryOnly: false): Promise<RemoteLock>;
  async #serverSide(
    r: LockRequest,
    local: Releaser,
    tryOnly: boolean,
  ): Promise<RemoteLock | undefined> {
    for (;;) {
      if (r.signal?.aborted) throw new AbortError(r.signal.reason);
      const entry = this.#entries.get(r.key);
      if (entry === undefined) return this.#fresh(r, local, tryOnly);
      // Its first request is still on its way to the server: joining it now would hold
      // nothing if that request fails or is aborted. Wait for the answer.
      if (!entry.granted) {
        if (tryOnly) return undefined;
        await this.#wait(settledOf(entry), r);
        continue;
      }
      // Only shared requests get here with an entry present: the in-process write lock
      // admits an exclusive request only after every local holder released.
      if (entry.unlocking || entry.mode !== "shared" || r.mode !== "shared") {
        if (tryOnly) return undefined;
        await this.#wait(closedOf(entry), r);
        continue;
      }
      const lock = await this.#join(entry, r, local);
      if (lock !== undefined) return lock;
      // A remote request is queued behind our shared hold: joining it would jump that
      // queue. Wait for our hold to end, then queue on the server like everyone else.
      if (tryOnly) return undefined;
      await this.#wait(closedOf(entry), r);
    }
  }

  /** Waits for `p` within the request's deadline and signal; a timeout names the holder. */
  async #wait(p: Promise<void>, r: LockRequest): Promise<void> {
    if (r.tag !== undefined) r.tag.waited = true;
    try {
      await waitBounded(p, r, () => new LockTimeoutError(r.timeoutMs ?? 0));
    } catch (err) {
      throw err instanceof LockTimeoutError ? await this.#timeoutError(r) : err;
    }
  }

  /** A shared request joins this process's existing shared hold, unless someone waits. */
  async #join(entry: Entry, r: LockRequest, local: Releaser): Promise<RemoteLock | undefined> {
    if (r.tag !== undefined) r.tag.atServer = true;
    entry.refs++;
    let token: string | null;
    try {
      const q =
        r.tag === undefined
          ? this.#sql.join(r.key)
          : this.#tagSql.join(r.key, r.name, r.tag, r.holder);
      const res = await entry.session.query(q);
      token = res.rows[0].token;
    } catch (err) {
      entry.refs--;
      this.#maybeUnlock(entry);
      // The hold we meant to join was lost with its session: we hold nothing, and the
      // caller queues afresh (the entry has left the table).
      if (!entry.session.alive || isConnectionError(err)) return undefined;
      throw err;
    }
    if (token === null || !entry.session.alive || r.signal?.aborted) {
      if (token !== null && r.tag !== undefined && entry.session.alive) {
        // A LockManager joiner's row went in with the join: out with it before the
        // hold can end (if that fails, the session ends, and what believes the row).
        const { client, seq } = r.tag;
        await entry.session.query(this.#tagSql.deleteRow(client, seq)).catch((err: unknown) => {
          entry.session.lose({
            reason: "connection-ended",
            detail: `a statement failed (${(err as Error).message})`,
            cause: err,
          });
        });
      }
      entry.refs--;
      this.#maybeUnlock(entry);
      // Aborted meanwhile: never granted. A join holds nothing of its own on the
      // server (the session's shared hold is the others'), so dropping it undoes it.
      if (r.signal?.aborted) throw new AbortError(r.signal.reason);
      return undefined;
    }
    entry.session.addHold(performance.now(), performance.now());
    const joined = this.#hold(entry, r, Number(token), local);
    if (r.tag !== undefined) {
      r.tag.joined = true;
      // Its row (written by the join) goes with its release.
      (entry.joiners ??= new Map()).set(joined, r.tag);
    }
    return joined;
  }

  #hold(entry: Entry, r: LockRequest, token: number, local: Releaser): RemoteLock {
    const lock = new RemoteLock(this, r.name, r.mode, token, local, entry);
    entry.holds.add(lock);
    if (!entry.recorded && entry.tagged === undefined && !this.#unrecorded.has(entry)) {
      this.#unrecorded.set(entry, { lock, r, granted: performance.now() });
    }
    return lock;
  }

  /** Takes a session and asks the server for the lock (waiting in its FIFO queue). */
  async #fresh(r: LockRequest, local: Releaser, tryOnly: boolean): Promise<RemoteLock | undefined> {
    if (r.tag !== undefined) r.tag.atServer = true;
    const session = this.#pool.takeIdle() ?? (await this.#pool.take(r.signal));
    const entry: Entry = {
      key: r.key,
      session,
      mode: r.mode,
      refs: 1,
      holds: new Set(),
      closed: undefined,
      close: undefined,
      done: false,
      unsubscribe: () => {},
      unlocking: false,
      recorded: false,
      head: undefined,
      tagged: undefined,
      joiners: undefined,
      granted: false,
      onSettled: undefined,
    };
    this.#entries.set(r.key, entry);
    entry.unsubscribe = session.onLoss((loss) => this.#onLoss(entry, loss));
    const timeLeft = r.deadline - performance.now();
    const useTry = tryOnly || timeLeft <= 0;
    const onAbort = (): void => {
      session.cancelled = true;
      void sendCancel(session.client);
    };
    const stopListening = r.signal && listenForAbort(r.signal, onAbort);
    let sent = performance.now();
    let token: string | null;
    try {
      if (r.tag !== undefined) {
        token = await this.#tagged(entry, r, useTry, (t) => {
          sent = t;
        });
      } else {
        const query = useTry
          ? this.#sql.tryLock(r.mode, r.key)
          : this.#sql.lock(r.mode, r.key, timeLeft);
        token = (await session.query(query)).rows[0].token;
      }
    } catch (err) {
      stopListening?.();
      // A lock statement that failed may still have been granted: a lock timeout (or a
      // cancel) that races the grant fails the statement, but the server keeps the
      // session lock it had just granted.
      await this.#abandon(entry, false, true);
      const code = (err as { code?: string }).code;
      if (r.signal?.aborted && (code === QUERY_CANCELED || isConnectionError(err))) {
        throw new AbortError(r.signal.reason);
      }
      if (code === LOCK_TIMEOUT) throw await this.#timeoutError(r);
      if (this.#closed()) throw closedError();
      // An idle session the server (or the network) dropped while it was parked: it
      // held nothing, so ask again on a new one, once.
      if (session.reused && isConnectionError(err)) return this.#fresh(r, local, tryOnly);
      throw err;
    }
    stopListening?.();
    const received = performance.now();
    if (r.signal?.aborted) {
      // The grant raced the abort. The caller was told nothing yet, so undo it: end the
      // session (a cancel may still be on its way and would hit an unlock statement).
      await this.#abandon(entry, token !== null);
      throw new AbortError(r.signal.reason);
    }
    if (token === null) {
      await this.#abandon(entry);
      if (tryOnly) return undefined;
      throw await this.#timeoutError(r);
    }
    session.addHold(sent, received);
    const lock = this.#hold(entry, r, Number(token), local);
    entry.head = lock;
    // The record names this request (written by its try, see #tagged).
    if (r.tag !== undefined && entry.recorded) entry.tagged = lock;
    entry.granted = true;
    settle(entry);
    return lock;
  }

  /**
   * The server side of a LockManager request (see lock-manager-statements.ts): a plain
   * try unless it already waited here, then a try that writes the session's record,
   * then, if refused and allowed to wait, the wait. Returns the token, or `null` if not
   * granted (refused try, or no time left).
   */
  async #tagged(
    entry: Entry,
    r: LockRequest,
    tryOnly: boolean,
    sending: (at: number) => void,
  ): Promise<string | null> {
    const { session } = entry;
    const tag = r.tag!;
    if (!tag.waited) {
      const named = this.#named.has(r.key);
      const q = named
        ? this.#sql.tryLock(r.mode, r.key)
        : this.#tagSql.namingTry(r.mode, r.key, r.name);
      const token: string | null = (await session.query(q)).rows[0].token;
      if (!named) {
        if (this.#named.size >= 4096) this.#named.clear();
        this.#named.add(r.key);
      }
      if (token !== null || tryOnly) return token;
      // Aborted meanwhile: a cancel request may be on its way; send nothing more on
      // this session (the caller ends it).
      if (r.signal?.aborted) throw new AbortError(r.signal.reason);
    }
    entry.recorded = true;
    sending(performance.now());
    const tried = await session.query(this.#tagSql.recordTry(r.mode, r.key, r.name, tag, r.holder));
    const token: string | null = tried.rows[0].token;
    if (token !== null || tryOnly) return token;
    if (r.signal?.aborted) throw new AbortError(r.signal.reason);
    const timeLeft = r.deadline - performance.now();
    if (timeLeft <= 0) return null;
    sending(performance.now());
    return (await session.query(this.#tagSql.lock(r.mode, r.key, timeLeft))).rows[0].token;
  }

  /**
   * Drops an entry that never held anything for anyone (its acquire failed, timed out
   * or was aborted). `granted`: the server granted it anyway, so the session must end.
   * `failed`: its statement failed, so the server may hold the lock for it anyway.
   */
  async #abandon(entry: Entry, granted = false, failed = false): Promise<void> {
    entry.refs--;
    entry.unsubscribe();
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    const { session } = entry;
    let stale = false;
    if ((failed || entry.recorded) && !granted && !session.cancelled && session.alive) {
      // Before anyone else uses the session: give back a lock granted in the race (the
      // session holds no other), and clear a LockManager waiter's record. If that
      // fails, the session goes.
      try {
        await session.query(this.#sql.clearRecord(failed));
      } catch {
        stale = true;
      }
    }
    if (granted || stale || session.cancelled || !session.alive) {
      await session.close({ reason: "closed", detail: "its acquire was abandoned" });
    } else {
      this.#pool.park(session);
    }
    markDone(entry);
  }

  #onLoss(entry: Entry, loss: Loss): void {
    this.#unrecorded.delete(entry);
    for (const lock of entry.holds) lock.lose(loss);
    entry.holds.clear();
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    markDone(entry);
  }

  checkLease(lock: RemoteLock): boolean {
    const entry = lock.hold as Entry | undefined;
    if (entry === undefined) return false;
    return entry.session.checkDeadline();
  }

  async releaseHold(lock: RemoteLock): Promise<Loss | undefined> {
    const entry = lock.hold as Entry | undefined;
    lock.hold = undefined;
    if (entry === undefined || !entry.holds.delete(lock)) return undefined;
    const { session } = entry;
    if (session.loss !== undefined) return session.loss;
    try {
      const joiner = entry.joiners?.get(lock);
      const joiners = entry.joiners?.size ?? 0;
      if (joiner !== undefined) {
        entry.joiners!.delete(lock);
        await session.query(this.#tagSql.deleteRow(joiner.client, joiner.seq));
      } else if (
        entry.refs > 1 &&
        (entry.tagged === lock || (lock === entry.head && joiners > 0))
      ) {
        // Others still ride on this hold, and the session's record (or, unrecorded, the
        // session itself) stands for this one in query(). With LockManager joiners left,
        // their rows show them: a blank record hides the session; without, a cleared
        // record lets query() show the session as the (unrecorded) holder it still is.
        entry.tagged = undefined;
        this.#unrecorded.delete(entry);
        entry.recorded = joiners > 0;
        await session.query(
          joiners > 0 ? this.#tagSql.blankRecord(entry.key) : this.#sql.clearRecord(),
        );
      }
    } catch (err) {
      // Whatever failed, the session ends: the server then releases what it held.
      const loss: Loss = session.loss ?? {
        reason: "connection-ended",
        detail: `the release failed (${(err as Error).message})`,
        cause: err,
      };
      session.lose(loss);
      return loss;
    }
    entry.refs--;
    session.removeHold();
    if (entry.refs > 0) return undefined;
    return this.#unlock(entry);
  }

  /** A failed or refused join may have been the last reference. */
  #maybeUnlock(entry: Entry): void {
    if (entry.refs === 0 && !entry.unlocking && entry.session.alive) void this.#unlock(entry);
  }

  async #unlock(entry: Entry): Promise<Loss | undefined> {
    entry.unlocking = true;
    this.#unrecorded.delete(entry);
    const { session } = entry;
    let loss: Loss | undefined;
    try {
      const q = this.#sql.unlock(entry.mode, entry.key, entry.recorded);
      const ok = (await session.query(q)).rows[0].ok;
      if (ok !== true) {
        loss = {
          reason: "not-held",
          detail: "the server said this session did not hold it at release",
        };
      }
    } catch (err) {
      loss = session.loss ?? {
        reason: "connection-ended",
        detail: `the release failed (${(err as Error).message})`,
        cause: err,
      };
    }
    entry.unsubscribe();
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    if (loss === undefined && session.alive && !session.cancelled) this.#pool.park(session);
    else session.lose(loss ?? { reason: "closed", detail: "its session was closed" });
    markDone(entry);
    return loss;
  }
}
