// Lock sessions that hold nothing, kept for the next acquire: opening a connection costs
// far more than a lock. A session is parked only after its unlock succeeded and no
// cancel request was ever sent on it, so a parked session holds no lock; it is closed
// after half a lease idle, before the server's idle_session_timeout would end it.
import type pg from "pg";
import { AbortError } from "../errors.js";
import { PostgresConnectionError } from "./errors.js";
import { LockSession, type SessionConfig } from "./session.js";

const MAX_IDLE = 8;

export class SessionPool {
  readonly #config: SessionConfig;
  readonly #init: pg.QueryConfig;
  readonly #idle: LockSession[] = [];
  readonly #timers = new Map<LockSession, NodeJS.Timeout>();
  readonly #open = new Set<LockSession>();
  #closed = false;

  constructor(config: SessionConfig, init: pg.QueryConfig) {
    this.#config = config;
    this.#init = init;
  }

  /** An idle session, or a new one. Rejects with `AbortError` as soon as `signal` aborts. */
  take(signal: AbortSignal | undefined): Promise<LockSession> {
    if (this.#closed) return Promise.reject(closedError());
    if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
    for (let s = this.#idle.pop(); s !== undefined; s = this.#idle.pop()) {
      clearTimeout(this.#timers.get(s));
      this.#timers.delete(s);
      if (s.alive) {
        s.reused = true;
        return Promise.resolve(s);
      }
    }
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
      signal.addEventListener("abort", onAbort, { once: true });
      opening.then(
        (s) => {
          signal.removeEventListener("abort", onAbort);
          if (!signal.aborted) resolve(s);
        },
        (err) => {
          signal.removeEventListener("abort", onAbort);
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
    return session;
  }

  #forget(session: LockSession): void {
    this.#open.delete(session);
    clearTimeout(this.#timers.get(session));
    this.#timers.delete(session);
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
    const timer = setTimeout(() => {
      this.#forget(session);
      void session.close();
    }, this.#config.leaseMs / 2);
    timer.unref();
    this.#timers.set(session, timer);
  }

  /** Closes every session this pool opened, held or idle. */
  async close(): Promise<void> {
    this.#closed = true;
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
