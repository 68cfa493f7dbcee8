// The lock_requests rows a LockManager writes from its backend's pool: one per request
// queued in this process behind another of its requests for the same name, so that
// query() on other hosts sees it waiting (the head of each name's queue is described by
// its session's record instead, see lock-manager-statements.ts). Written only once a
// request has waited a turn of the event loop without reaching the server, so the
// uncontended request writes nothing here.
//
// All writes of one client go through one chain, one statement at a time, each batching
// whatever was asked meanwhile: a row's delete always runs after its insert. A write
// that fails is dropped: rows are what query() shows, never what decides who holds a
// lock, and a row of a request that is gone shows nowhere (query() believes a row only
// while its client has a session on that lock in pg_locks).
import type pg from "pg";
import { storedName } from "./keys.js";
import type { RemoteLockMode } from "./remote-lock.js";

/** A waiting request as its row records it. */
export interface WaitingRow {
  seq: number;
  key: string;
  name: string;
  mode: RemoteLockMode;
  /** `performance.now()` when the request was made: its `since`, on the server's clock. */
  started: number;
  holder: string | null;
}

interface Batch<T> {
  items: T[];
  done: Promise<void>;
}

/** Rows of dead clients are dropped this often, at most (by whichever client writes). */
const GC_EVERY_MS = 60_000;

export class RequestRows {
  readonly #pool: pg.Pool;
  readonly #s: string;
  readonly #client: string;
  readonly #host: string;
  readonly #pid: number;
  #tail: Promise<void> = Promise.resolve();
  #inserting: Batch<WaitingRow> | undefined;
  #removing: Batch<number> | undefined;
  #lastGc = performance.now();

  constructor(pool: pg.Pool, s: string, client: string, host: string, pid: number) {
    this.#pool = pool;
    this.#s = s;
    this.#client = client;
    this.#host = host;
    this.#pid = pid;
  }

  /** Runs `fn` after every write asked for before; never rejects. */
  #enqueue(fn: () => Promise<unknown>): Promise<void> {
    const run = this.#tail.then(fn).then(
      () => {},
      () => {},
    );
    this.#tail = run;
    return run;
  }

  /** Writes the row of each waiting request; resolves once written (or given up). */
  insert(rows: WaitingRow[]): Promise<void> {
    if (this.#inserting === undefined) {
      const items: WaitingRow[] = [];
      const done = this.#enqueue(async () => {
        this.#inserting = undefined;
        await this.#insert(items);
        if (performance.now() - this.#lastGc > GC_EVERY_MS) {
          this.#lastGc = performance.now();
          await this.#gc();
        }
      });
      this.#inserting = { items, done };
    }
    this.#inserting.items.push(...rows);
    return this.#inserting.done;
  }

  /** Deletes the row of request `seq`, after its insert; resolves once done. */
  remove(seq: number): Promise<void> {
    if (this.#removing === undefined) {
      const items: number[] = [];
      const done = this.#enqueue(() => {
        this.#removing = undefined;
        return this.#pool.query({
          text: `DELETE FROM ${this.#s}.lock_requests WHERE client = $1 AND seq = ANY($2::bigint[])`,
          values: [this.#client, items],
        });
      });
      this.#removing = { items, done };
    }
    this.#removing.items.push(seq);
    return this.#removing.done;
  }

  async #insert(rows: WaitingRow[]): Promise<void> {
    // Connected first: the server's now() must be the moment the wait is measured.
    const c = await this.#pool.connect();
    const now = performance.now();
    let failed: Error | undefined;
    try {
      await c.query({
        text: `INSERT INTO ${this.#s}.lock_requests (client, seq, key, name, mode, since, holder, host, pid)
        SELECT $1, u.seq, u.key, u.name, u.mode, now() - make_interval(secs => u.waited / 1000), u.holder, $2, $3
        FROM unnest($4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::float8[], $9::jsonb[])
          AS u(seq, key, name, mode, waited, holder)
        ON CONFLICT (client, seq) DO NOTHING`,
        values: [
          this.#client,
          this.#host,
          this.#pid,
          rows.map((r) => r.seq),
          rows.map((r) => r.key),
          rows.map((r) => storedName(r.name)),
          rows.map((r) => r.mode),
          rows.map((r) => Math.max(0, now - r.started)),
          rows.map((r) => r.holder),
        ],
      });
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      // A connection that failed is not given back to the pool.
      c.release(failed);
    }
  }

  /**
   * Drops the rows of clients with no session left on the server (their process died
   * with requests queued), once they are a minute old: a live client's queued request
   * always has a session of its client on that lock, or is a moment away from one.
   */
  #gc(): Promise<unknown> {
    return this.#pool.query(
      `DELETE FROM ${this.#s}.lock_requests r WHERE r.since < now() - interval '1 minute'
        AND NOT EXISTS (SELECT 1 FROM ${this.#s}.holders h JOIN pg_stat_activity a ON a.pid = h.backend_pid
          WHERE h.client = r.client)`,
    );
  }
}
