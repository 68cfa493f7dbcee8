// The lock sessions of one backend: the idle ones, kept for the next acquire (opening a
// connection costs far more than a lock), and one ticker that drives every timed thing
// (heartbeats and lease deadlines of held sessions, expiry of idle ones, and the lock
// table's holder records), so that an acquire/release cycle arms no timer at all.
//
// A session is parked only after its unlock succeeded and no cancel request was ever sent
// on it, so a parked session holds no lock; it is closed after half a lease idle, before
// the server's idle_session_timeout would end it.
import type pg from "pg";
import { AbortError } from "../errors.js";
import { listenForAbort } from "../internal/abort-watch.js";
import { PostgresConnectionError } from "./errors.js";
import { LockSession, type SessionConfig } from "./session.js";

const MAX_IDLE = 8;
const TICK_MS = 25;

export class SessionPool {
  readonly #config: SessionConfig;
  readonly #init: pg.QueryConfig;
  readonly #idle: LockSession[] = [];
  readonly #parkedAt = new Map<LockSession, number>();
  readonly #open = new Set<LockSession>();
  readonly #onTick: ((now: number) => void)[] = [];
  #ticker: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(config: SessionConfig, init: pg.QueryConfig) {
    this.#config = config;
    this.#init = init;
  }

  /** Runs `fn` at every tick, while any session is open. */
  everyTick(fn: (now: number) => void): void {
    this.#onTick.push(fn);
  }

  #tick(): void {
    const now = performance.now();
    for (const s of this.#open) s.tick(now);
    for (const [s, at] of this.#parkedAt) {
      if (now - at > this.#config.leaseMs / 2) {
        this.#forget(s);
        void s.close();
      }
    }
    for (const fn of this.#onTick) fn(now);
    if (this.#open.size === 0) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
  }

  /** An idle session, without waiting, or `undefined`. */
  takeIdle(): LockSession | undefined {
    if (this.#closed) throw closedError();
    for (let s = this.#idle.pop(); s !== undefined; s = this.#idle.pop()) {
      this.#parkedAt.delete(s);
      if (s.alive) {
        s.reused = true;
        return s;
      }
    }
    return undefined;
  }

  /** An idle session, or a new one. Rejects with `AbortError` as soon as `signal` aborts. */
  take(signal: AbortSignal | undefined): Promise<LockSession> {
    if (this.#closed) return Promise.reject(closedError());
    if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
    const idle = this.takeIdle();
    if (idle !== undefined) return Promise.resolve(idle);
    const opening = this.#openSession();
    if (signal === undefined) return opening;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        reject(new AbortError(signal.reason));
        // Not wasted: it holds nothing, the next acquire takes it.
        opening.then(
          (s) => this.park(s),
          () => {},
        );
      };
      const stopListening = listenForAbort(signal, onAbort);
      opening.then(
        (s) => {
          stopListening();
          if (!signal.aborted) resolve(s);
        },
        (err) => {
          stopListening();
          reject(err);
        },
      );
    });
  }

  async #openSession(): Promise<LockSession> {
    const session = await LockSession.open(this.#config);
    try {
      await session.query(this.#init);
    } catch (err) {
      session.destroy();
      throw err;
    }
    if (this.#closed) {
      await session.close();
      throw closedError();
    }
    this.#open.add(session);
    session.onLoss(() => this.#forget(session));
    if (this.#ticker === undefined) {
      this.#ticker = setInterval(() => this.#tick(), TICK_MS);
      this.#ticker.unref();
    }
    return session;
  }

  #forget(session: LockSession): void {
    this.#open.delete(session);
    this.#parkedAt.delete(session);
    const i = this.#idle.indexOf(session);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  /** Keeps a session that holds nothing for reuse, or closes it. */
  park(session: LockSession): void {
    if (!session.alive || session.cancelled || session.holds > 0) return;
    if (this.#closed || this.#idle.length >= MAX_IDLE) {
      void session.close();
      return;
    }
    this.#idle.push(session);
    this.#parkedAt.set(session, performance.now());
  }

  /** Closes every session this pool opened, held or idle. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    const all = [...this.#open];
    await Promise.all(
      all.map((s) => s.close({ reason: "closed", detail: "the backend was closed" })),
    );
  }
}

export function closedError(): PostgresConnectionError {
  return new PostgresConnectionError(
    "EPGCLOSED",
    "The PostgreSQL backend was closed; connect again with connectPostgres()",
  );
}
