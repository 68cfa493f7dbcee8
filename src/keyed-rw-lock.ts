import { KeyedPool } from "./internal/keyed-pool.js";
import type { AcquireOptions } from "./internal/options.js";
import { checkFn, type Permit, type Releaser, runWith } from "./internal/permit.js";
import {
  isWriteLocked,
  MAX_READERS,
  readersOf,
  rwFactory,
  type WriteReleaser,
} from "./internal/rw-handles.js";

/**
 * One FIFO-fair read/write lock per key; idle keys are dropped.
 *
 * **Guarantee:** per key, exactly the guarantee of {@link RWLock}; keys are independent,
 * and a key with neither holder nor waiter is forgotten at once (`size` returns to 0).
 *
 * **Fairness / Cancellation:** as {@link RWLock}, per key.
 *
 * @example
 * ```ts
 * const docs = new KeyedRWLock<string>();
 * const text = await docs.runRead(id, () => store.get(id));
 * await docs.runWrite(id, () => store.put(id, edit(text)));
 * ```
 */
export class KeyedRWLock<K = string> {
  readonly #pool = new KeyedPool<K, Permit>(MAX_READERS, rwFactory);

  /** Waits for a shared read lock on `key`. */
  readLock(key: K, options?: AcquireOptions): Promise<Releaser> {
    return this.#pool.get(key).acquire(1, options);
  }

  /** Waits for the exclusive write lock on `key`. */
  writeLock(key: K, options?: AcquireOptions): Promise<WriteReleaser> {
    return this.#pool
      .get(key)
      .acquire(MAX_READERS, options) as Promise<unknown> as Promise<WriteReleaser>;
  }

  /** A read lock on `key` only if no writer holds it and nobody is queued. */
  tryReadLock(key: K): Releaser | undefined {
    return this.#pool.get(key).tryAcquire(1);
  }

  /** The write lock on `key` only if nobody holds it and nobody is queued. */
  tryWriteLock(key: K): WriteReleaser | undefined {
    return this.#pool.get(key).tryAcquire(MAX_READERS) as WriteReleaser | undefined;
  }

  /** Runs `fn` under a read lock on `key`. */
  runRead<T>(key: K, fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<Awaited<T>> {
    return runWith(checkFn(fn), this.readLock(key, options));
  }

  /** Runs `fn` under the write lock on `key`. */
  runWrite<T>(key: K, fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<Awaited<T>> {
    return runWith(checkFn(fn), this.writeLock(key, options));
  }

  /** Read locks held on `key` right now. */
  readers(key: K): number {
    return readersOf(this.#pool.queues.get(key));
  }

  /** Whether a writer holds `key`. */
  isWriteLocked(key: K): boolean {
    return isWriteLocked(this.#pool.queues.get(key));
  }

  /** How many callers (readers and writers) are queued for `key`. */
  waiting(key: K): number {
    return this.#pool.queues.get(key)?.length ?? 0;
  }

  /** Keys with a holder or a waiter; idle keys are dropped, so this returns to 0. */
  get size(): number {
    return this.#pool.queues.size;
  }
}
