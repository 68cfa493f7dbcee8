import type { AcquireOptions } from "./internal/options.js";
import { checkFn, type Permit, permitFactory, type Releaser, runWith } from "./internal/permit.js";
import { WaitQueue } from "./internal/wait-queue.js";

/**
 * An async mutual-exclusion lock that grants in strict arrival order.
 *
 * **Guarantee:** at most one holder at a time, and the lock is granted in exactly the
 * order `acquire` was called, skipping only waiters that gave up.
 *
 * **Fairness:** release hands the lock straight to the head waiter, so `tryAcquire`
 * never barges past a queued waiter and a newcomer never overtakes the queue.
 *
 * **Cancellation:** a waiter whose `signal` aborts or whose `timeoutMs` elapses is
 * unlinked at once, never granted, and the next waiter proceeds. Releasing twice is
 * a no-op and never frees another holder.
 *
 * @example
 * ```ts
 * const mutex = new Mutex();
 * {
 *   using _ = await mutex.acquire({ timeoutMs: 1_000 });
 *   await appendToLog(entry);
 * } // released here, even if appendToLog throws
 * const n = await mutex.runExclusive(() => counter.increment());
 * ```
 */
export class Mutex {
  readonly #queue = new WaitQueue<Permit>(1, permitFactory);

  /**
   * Waits for the lock.
   * @throws {LockTimeoutError} when `timeoutMs` elapses first.
   * @throws {AbortError} when `signal` aborts first (`cause` is `signal.reason`).
   * @throws {RangeError} synchronously, for a negative or NaN `timeoutMs`.
   * @throws {TypeError} synchronously, when `signal` is not an AbortSignal.
   */
  acquire(options?: AcquireOptions): Promise<Releaser> {
    return this.#queue.acquire(1, options);
  }

  /** Takes the lock only if it is free and nobody is queued; never waits, never barges. */
  tryAcquire(): Releaser | undefined {
    return this.#queue.tryAcquire(1);
  }

  /** Runs `fn` while holding the lock and releases it however `fn` ends. */
  runExclusive<T>(fn: () => T | PromiseLike<T>, options?: AcquireOptions): Promise<Awaited<T>> {
    return runWith(checkFn(fn), this.acquire(options));
  }

  /** Whether somebody holds the lock right now. */
  get isLocked(): boolean {
    return this.#queue.available === 0;
  }

  /** How many callers are queued for the lock. */
  get waiting(): number {
    return this.#queue.length;
  }
}
