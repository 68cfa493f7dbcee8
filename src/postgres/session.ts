// One library-owned connection that holds (or waits for) advisory locks. It never comes
// from a pool the user can see, and it is never handed to anyone while it holds a lock.
// While it holds, it heartbeats and keeps a local lease deadline; the server bounds the
// same lease with idle_session_timeout. Any sign of trouble ends the connection, which
// is what makes the server release whatever it held.
import pg from "pg";
import type { LockLostReason } from "./errors.js";

/** How a session was lost: handed to every listener, which builds its own error. */
export interface Loss {
  reason: LockLostReason;
  detail: string;
  cause?: unknown;
}

export interface SessionConfig {
  clientConfig: pg.ClientConfig;
  leaseMs: number;
}

/** Error codes and messages that mean the connection itself is gone. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  // 57P01..57P05: admin shutdown, crash shutdown, cannot connect now, database dropped,
  // idle-session timeout; 08xxx: connection exceptions.
  if (code.startsWith("57P") || code.startsWith("08")) return true;
  if (["ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT"].includes(code)) return true;
  const message = typeof e?.message === "string" ? e.message : "";
  return /Connection terminated|Client has encountered a connection error|not queryable|ended/i.test(
    message,
  );
}

export class LockSession {
  readonly client: pg.Client;
  readonly leaseMs: number;
  /** Set once: the session is unusable and every hold on it is lost. */
  loss: Loss | undefined;
  /** A cancel request was sent: a late one could hit any later statement, so never reuse. */
  cancelled = false;
  /** Taken from the idle pool rather than freshly opened. */
  reused = false;
  #holds = 0;
  #listeners = new Set<(loss: Loss) => void>();
  #lastOkSent = 0;
  #nextBeat = 0;
  #beating = false;
  /** Statements sent and not answered yet: when 0, a new one goes out at once. */
  #inFlight = 0;
  #ended: Promise<void>;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(client: pg.Client, leaseMs: number) {
    this.client = client;
    this.leaseMs = leaseMs;
    this.#ended = new Promise((resolve) => client.once("end", () => resolve()));
    const lost = (detail: string) => (err?: unknown) =>
      this.lose({ reason: "connection-ended", detail, cause: err });
    client.on("error", (err) => lost(`its connection failed (${err.message})`)(err));
    client.on("end", lost("its connection ended"));
  }

  /**
   * Opens a session: connects, then in one round trip sets the lease on the server
   * (`idle_session_timeout`), turns off timeouts a role default could impose on a lock
   * wait, asks the server to notice a dead client while it waits, and makes commits
   * synchronous so that fencing tokens are durable before they are seen.
   */
  static async open(config: SessionConfig): Promise<LockSession> {
    const client = new pg.Client(config.clientConfig);
    const session = new LockSession(client, config.leaseMs);
    try {
      await client.connect();
      await client.query(
        `SELECT set_config('idle_session_timeout', $1, false), set_config('statement_timeout', '0', false),
                set_config('lock_timeout', '0', false), set_config('idle_in_transaction_session_timeout', '0', false),
                set_config('client_connection_check_interval', '1000', false), set_config('synchronous_commit', 'on', false)`,
        [`${config.leaseMs}`],
      );
    } catch (err) {
      session.destroy();
      throw err;
    }
    return session;
  }

  /**
   * Runs a statement after the ones already sent on this session: `pg` 9 will refuse a
   * query while another runs, and a shared join, a heartbeat and an unlock can overlap.
   */
  query<R extends pg.QueryResultRow = any>(q: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    this.#inFlight++;
    const run = (
      this.#inFlight === 1
        ? this.client.query<R>(q)
        : this.#tail.then(() => this.client.query<R>(q))
    ).finally(() => {
      this.#inFlight--;
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  get alive(): boolean {
    return this.loss === undefined;
  }

  get holds(): number {
    return this.#holds;
  }

  /** Calls `fn` once if the session is lost; returns the unsubscribe function. */
  onLoss(fn: (loss: Loss) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Heartbeats go this often while the session holds something. */
  #interval(): number {
    return this.leaseMs / 3;
  }

  /**
   * How far before the server's earliest possible release the local deadline fires:
   * the server's idle timer starts when a statement completes, never before we sent
   * it, so `lastOkSent + leaseMs` is never later than the server's release; the margin
   * covers the lateness of the pool's ticker on a busy event loop.
   */
  #margin(): number {
    return Math.min(this.leaseMs / 6, 2_000);
  }

  /** The local lease deadline (`performance.now()` scale). */
  get deadline(): number {
    return this.#lastOkSent + this.leaseMs - this.#margin();
  }

  /**
   * A lock statement sent at `sentAt` came back at `receivedAt` with a grant. The
   * server finished it somewhere in between: after a long wait, `sentAt` says nothing
   * useful, so the lease is counted from `receivedAt - margin` and confirmed by a
   * heartbeat at the next tick.
   */
  addHold(sentAt: number, receivedAt: number): void {
    if (this.loss !== undefined) return;
    this.#holds++;
    const waited = receivedAt - sentAt > this.#margin();
    const base = waited ? receivedAt - this.#margin() : sentAt;
    if (this.#holds === 1 || base > this.#lastOkSent) this.#lastOkSent = base;
    if (this.#holds === 1) this.#nextBeat = base + this.#interval();
    if (waited) this.#nextBeat = receivedAt;
  }

  removeHold(): void {
    if (this.#holds > 0) this.#holds--;
  }

  /** Declares the loss when the lease deadline has passed; `false` if lost. */
  checkDeadline(now = performance.now()): boolean {
    if (this.loss !== undefined) return false;
    if (this.#holds > 0 && now >= this.deadline) {
      this.lose({
        reason: "lease-expired",
        detail: `no heartbeat succeeded within the ${this.leaseMs} ms lease (was the process paused or its event loop blocked?)`,
      });
      return false;
    }
    return true;
  }

  /**
   * Called by the pool's ticker: while the session holds something, checks the
   * deadline and sends a heartbeat when one is due (never two at once). A heartbeat
   * that fails or gets no answer within a third of the lease ends the session; so
   * without the ticker being late, a dead connection is noticed by two thirds of the
   * lease, before the deadline.
   */
  tick(now: number): void {
    if (this.#holds === 0 || this.#beating || !this.checkDeadline(now)) return;
    if (now < this.#nextBeat) return;
    this.#beating = true;
    const sent = now;
    this.query({
      text: "SELECT 1",
      query_timeout: Math.max(1, Math.floor(this.#interval())),
    } as pg.QueryConfig).then(
      () => {
        this.#beating = false;
        if (this.loss !== undefined || this.#holds === 0) return;
        if (sent > this.#lastOkSent) this.#lastOkSent = sent;
        this.#nextBeat = sent + this.#interval();
        this.checkDeadline();
      },
      (err: unknown) => {
        this.#beating = false;
        this.lose(
          isConnectionError(err)
            ? {
                reason: "connection-ended",
                detail: `its connection failed (${(err as Error).message})`,
                cause: err,
              }
            : {
                reason: "heartbeat-failed",
                detail: `a heartbeat failed (${(err as Error).message})`,
                cause: err,
              },
        );
      },
    );
  }

  /**
   * Marks the session lost (once), tells every listener, and ends the connection so the
   * server releases what it holds even if the socket is still open.
   */
  lose(loss: Loss, destroy = true): void {
    if (this.loss !== undefined) return;
    this.loss = loss;
    if (destroy) this.destroy();
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const fn of listeners) fn(loss);
  }

  /** Closes the socket at once; the server ends the session when it sees it closed. */
  destroy(): void {
    const connection = (this.client as unknown as { connection?: { stream?: { destroy(): void } } })
      .connection;
    connection?.stream?.destroy();
  }

  /**
   * Ends the session and waits until the connection is closed: the server has ended
   * the backend by then, so every lock it held is released. Used to undo a grant that
   * raced an abort, where an unlock statement could itself be hit by the cancel.
   */
  async close(loss: Loss = { reason: "closed", detail: "its session was closed" }): Promise<void> {
    // A Terminate message rather than a dropped socket: the backend releases its locks
    // before it closes the connection, so once "end" arrives they are free.
    this.lose(loss, false);
    this.client.end().catch(() => {});
    // A connection that went half-open cannot say goodbye: drop it after a lease.
    const fallback = setTimeout(() => this.destroy(), this.leaseMs);
    await this.#ended;
    clearTimeout(fallback);
  }
}
