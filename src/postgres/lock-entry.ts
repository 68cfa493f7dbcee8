// One name's server-side state in this process (an entry of the lock table): the
// session that holds or waits for it, the handles riding on that hold, and the
// promises other requests of this process wait on.
import { AbortError, type LockTimeoutError } from "../errors.js";
import { listenForAbort } from "../internal/abort-watch.js";
import type { RequestTag } from "./lock-manager-statements.js";
import type { LockRequest } from "./lock-table.js";
import type { RemoteLock, RemoteLockMode } from "./remote-lock.js";
import type { LockSession } from "./session.js";

/** @internal */
export interface Entry {
  key: string;
  session: LockSession;
  mode: RemoteLockMode;
  /** Handles riding on the server-side hold, plus shared joins in flight. */
  refs: number;
  holds: Set<RemoteLock>;
  /** Made on demand; settles when the server-side hold is gone and the entry left the table. */
  closed: Promise<void> | undefined;
  close: (() => void) | undefined;
  /** The entry has left the table (before `closed` was ever asked for, possibly). */
  done: boolean;
  unsubscribe: () => void;
  unlocking: boolean;
  /** The holder record names this entry: the unlock must clear it. */
  recorded: boolean;
  /** The hold that asked the server for the lock (the first of the entry). */
  head: RemoteLock | undefined;
  /** The LockManager request's hold that the session record names (see lock-manager-statements.ts). */
  tagged: RemoteLock | undefined;
  /** LockManager requests that joined this shared hold: each has a row to delete. */
  joiners: Map<RemoteLock, RequestTag> | undefined;
  /** Its first acquire came back granted: only then may shared requests join it. */
  granted: boolean;
  /** Waiting for the first acquire to come back (made on demand). */
  onSettled: (() => void)[] | undefined;
}

/** Settles once the entry's first acquire came back (granted or not). */
export function settledOf(entry: Entry): Promise<void> {
  if (entry.granted || entry.done) return Promise.resolve();
  return new Promise<void>((resolve) => {
    entry.onSettled ??= [];
    entry.onSettled.push(resolve);
  });
}

export function settle(entry: Entry): void {
  const waiting = entry.onSettled;
  entry.onSettled = undefined;
  if (waiting !== undefined) for (const fn of waiting) fn();
}

/** Settles once `entry` has left the table. */
export function closedOf(entry: Entry): Promise<void> {
  if (entry.done) return Promise.resolve();
  entry.closed ??= new Promise<void>((resolve) => {
    entry.close = resolve;
  });
  return entry.closed;
}

export function markDone(entry: Entry): void {
  entry.done = true;
  entry.close?.();
  settle(entry);
}

/** A hold waiting to outlive RECORD_AFTER_MS before its holder record is written. */
export interface Unrecorded {
  lock: RemoteLock;
  r: LockRequest;
  granted: number;
}

/** Waits for `p`, but gives up on abort or at `deadline` (the caller retries or throws). */
export function waitBounded(
  p: Promise<unknown>,
  r: LockRequest,
  timeout: () => LockTimeoutError,
): Promise<void> {
  const { signal } = r;
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let stopListening: (() => void) | undefined;
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      stopListening?.();
      if (err === undefined) resolve();
      else reject(err);
    };
    if (signal !== undefined) {
      stopListening = listenForAbort(signal, () => finish(new AbortError(signal.reason)));
    }
    if (r.deadline !== Number.POSITIVE_INFINITY) {
      timer = setTimeout(() => finish(timeout()), Math.max(0, r.deadline - performance.now()));
    }
    p.then(
      () => finish(),
      () => finish(),
    );
  });
}
