// What the state store and the registry share with their backend: the library-owned
// pool for short transactions, and one transaction helper that honours `signal` and
// `timeoutMs` the interlock way.
import type pg from "pg";
import { AbortError, type LockTimeoutError } from "../errors.js";
import { listenForAbort } from "../internal/abort-watch.js";
import { sendCancel } from "./cancel.js";
import type { LockTable } from "./lock-table.js";
import type { RegistryOwner } from "./registry-types.js";
import type { RemoteLock } from "./remote-lock.js";
import { closedError } from "./session-pool.js";

/** @internal */
export interface BackendContext {
  readonly pool: pg.Pool;
  /** Quoted schema name, ready to interpolate. */
  readonly s: string;
  readonly namespace: string;
  readonly leaseMs: number;
  readonly locks: LockTable;
  readonly owner: RegistryOwner;
  readonly closed: boolean;
  /** The registry owner lock of this backend, taken (again) if it is not held. */
  ownerLock(signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<RemoteLock>;
  /** Advisory key of this backend's owner lock. */
  readonly ownerKey: string;
  /** This backend's client id: on its lock sessions' records and LockManager requests. */
  readonly clientId: string;
}

/** A transaction's query function; `waits: true` marks a statement that may wait on a row lock. */
export type TxQuery = <R extends pg.QueryResultRow = any>(
  q: pg.QueryConfig,
  waits?: boolean,
) => Promise<pg.QueryResult<R>>;

const LOCK_TIMEOUT = "55P03";
const QUERY_CANCELED = "57014";

async function checkout(
  pool: pg.Pool,
  signal: AbortSignal | undefined,
  deadline: number,
  timeout: () => LockTimeoutError,
): Promise<pg.PoolClient> {
  const connecting = pool.connect();
  if (signal === undefined && deadline === Number.POSITIVE_INFINITY) return connecting;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const giveUp = (err: Error): void => {
      if (done) return;
      done = true;
      cleanup();
      reject(err);
      connecting.then(
        (c) => c.release(),
        () => {},
      );
    };
    const onAbort = (): void => giveUp(new AbortError(signal!.reason));
    let stopListening: (() => void) | undefined;
    const cleanup = (): void => {
      clearTimeout(timer);
      stopListening?.();
    };
    if (signal?.aborted) return onAbort();
    stopListening = signal && listenForAbort(signal, onAbort);
    if (deadline !== Number.POSITIVE_INFINITY) {
      timer = setTimeout(() => giveUp(timeout()), Math.max(0, deadline - performance.now()));
    }
    connecting.then(
      (c) => {
        if (done) return;
        done = true;
        cleanup();
        resolve(c);
      },
      (err) => {
        if (done) return;
        done = true;
        cleanup();
        reject(err);
      },
    );
  });
}

/**
 * Runs `fn` in a transaction on a pooled connection. `timeoutMs` bounds the wait for a
 * connection and every row-lock wait (`lock_timeout`); `signal` cancels those waits (a
 * cancel request to the server), and once `fn` is done the transaction commits only if
 * `signal` has not aborted. A connection that was sent a cancel is destroyed, never
 * reused: a late cancel would hit its next user.
 */
export async function transaction<T>(
  ctx: BackendContext,
  options: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
  timeout: (timeoutMs: number) => LockTimeoutError,
  fn: (query: TxQuery) => Promise<T>,
): Promise<T> {
  if (ctx.closed) throw closedError();
  const { signal, timeoutMs } = options;
  if (signal?.aborted) throw new AbortError(signal.reason);
  const deadline =
    timeoutMs === undefined || timeoutMs > 2 ** 31 - 1
      ? Number.POSITIVE_INFINITY
      : performance.now() + timeoutMs;
  const client = await checkout(ctx.pool, signal, deadline, () => timeout(timeoutMs!));
  let tainted: unknown;
  const query: TxQuery = async (q, waits = false) => {
    if (signal?.aborted) throw new AbortError(signal.reason);
    if (!waits || signal === undefined) return client.query(q);
    const onAbort = (): void => {
      tainted ??= new Error("cancel request sent");
      void sendCancel(client);
    };
    const stopListening = listenForAbort(signal, onAbort);
    try {
      return await client.query(q);
    } finally {
      stopListening();
    }
  };
  try {
    // One round trip: a transaction left open by a paused process ends after a lease,
    // writes (fenced ones included) commit durably, waits give up at the deadline.
    let begin = `BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${ctx.leaseMs}; SET LOCAL synchronous_commit = on`;
    if (deadline !== Number.POSITIVE_INFINITY) {
      begin += `; SET LOCAL lock_timeout = ${Math.max(1, Math.ceil(deadline - performance.now()))}`;
    }
    await client.query(begin);
    const result = await fn(query);
    if (signal?.aborted) throw new AbortError(signal.reason);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    if (tainted === undefined) {
      await client.query("ROLLBACK").catch((e) => {
        tainted = e;
      });
    }
    const code = (err as { code?: string }).code;
    if (code === LOCK_TIMEOUT) throw timeout(timeoutMs ?? 0);
    if (signal?.aborted && (code === QUERY_CANCELED || err instanceof AbortError)) {
      throw new AbortError(signal.reason);
    }
    throw err;
  } finally {
    client.release(tainted === undefined ? undefined : (tainted as Error));
  }
}
