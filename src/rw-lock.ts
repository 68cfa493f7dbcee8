import type { AcquireOptions } from "./internal/options.js";
import { checkFn, type Permit, type Releaser, runWith } from "./internal/permit.js";
import {
  isWriteLocked,
  MAX_READERS,
  readersOf,
  rwFactory,
  type WriteReleaser,
} from "./internal/rw-handles.js";
import { WaitQueue } from "./internal/wait-queue.js";

/**
 * An async read/write lock with FIFO-fair phases.
 *
 * **Guarantee:** readers share, a writer excludes everyone, and grants follow arrival
 * order: adjacent queued readers are let in together, and a queued writer blocks every
 * reader that arrives after it, so neither writers nor readers starve.
 *
 * **Fairness:** one FIFO queue for both kinds. A reader arriving while readers hold the
 * lock but a writer is queued waits behind the writer (no barging); when the writer
 * releases, the run of readers behind it enters together.
 *
 * **Cancellation:** an aborted or timed-out waiter is unlinked at once and never
 * granted; if it was a writer at the head, the readers behind it proceed.
 *
 * @example
 * ```ts
 * const lock = new RWLock();
 * const snapshot = await lock.runRead(() => cache.get(key));
 * await lock.runWrite(async () => cache.set(key, await load(key)));
 * const w = await lock.writeLock();
 * cache.rebuild();
 * using r = w.downgrade(); // keep reading what we wrote; no writer slips in between
 * ```
 */
export class RWLock {
  readonly #queue = new WaitQueue<Permit>(MAX_READERS, rwFactory);

  /** Waits for a shared read lock. Throws as {@link Mutex.acquire}. */
  readLock(options?: AcquireOptions): Promise<Releaser> {
    return this.#queue.acquire(1, options);
  }

  /** Waits for the exclusive write lock. Throws as {@link Mutex.acquire}. */
  writeLock(options?: AcquireOptions): Promise<WriteReleaser> {
    return this.#queue.acquire(MAX_READERS, options) as Promise<unknown> as Promise<WriteReleaser>;
  }

  /** A read lock only if no writer holds it and nobody is queued. */
  tryReadLock(): Releaser | undefined {
    return this.#queue.tryAcquire(1);
  }

  /** The write lock only if nobody holds it and nobody is queued. */
  tryWriteLock(): WriteReleaser | undefined {
    return this.#queue.tryAcquire(MAX_READERS) as WriteReleaser | undefined;
  }

  /** Runs `fn` under a read lock and releases it however `fn` ends. */
  runRead<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<Awaited<T>> {
    return runWith(checkFn(fn), this.readLock(options));
  }

  /** Runs `fn` under the write lock and releases it however `fn` ends. */
  runWrite<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<Awaited<T>> {
    return runWith(checkFn(fn), this.writeLock(options));
  }

  /** How many read locks are held right now. */
  get readers(): number {
    return readersOf(this.#queue);
  }

  /** Whether a writer holds the lock. */
  get isWriteLocked(): boolean {
    return isWriteLocked(this.#queue);
  }

  /** How many callers (readers and writers) are queued. */
  get waiting(): number {
    return this.#queue.length;
  }
}
