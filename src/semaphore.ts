import { describe } from "./internal/describe.js";
import { type AcquireOptions, validateWeight } from "./internal/options.js";
import { checkFn, type Permit, permitFactory, type Releaser, runWith } from "./internal/permit.js";
import { WaitQueue } from "./internal/wait-queue.js";

/** {@link AcquireOptions} plus how many permits to take at once (default 1). */
export interface SemaphoreAcquireOptions extends AcquireOptions {
  weight?: number | undefined;
}

/**
 * A counting semaphore with weighted, strictly FIFO acquisition.
 *
 * **Guarantee:** never more than `permits` are out at once, and permits are granted
 * in arrival order.
 *
 * **Fairness:** weighted FIFO: a large request at the head of the queue collects freed
 * permits until it is satisfied; later, smaller requests wait behind it instead of
 * overtaking it (no starvation of large requests). `tryAcquire` never barges.
 *
 * **Cancellation:** an aborted or timed-out waiter is unlinked at once and any permits
 * already set aside for it go to the next waiters.
 *
 * @example
 * ```ts
 * const downloads = new Semaphore(4);
 * await Promise.all(urls.map((url) => downloads.runExclusive(() => fetch(url))));
 * using _ = await downloads.acquire({ weight: 2, timeoutMs: 500 }); // a big job takes two slots
 * ```
 */
export class Semaphore {
  readonly #queue: WaitQueue<Permit>;

  /** @throws {RangeError} unless `permits` is a positive integer. */
  constructor(permits: number) {
    if (typeof permits !== "number") {
      throw new TypeError(
        `Expected \`permits\` to be a positive integer, got ${describe(permits)}`,
      );
    }
    if (!Number.isSafeInteger(permits) || permits < 1) {
      throw new RangeError(
        `Expected \`permits\` to be a positive integer, got ${describe(permits)}; use a Mutex for one holder`,
      );
    }
    this.#queue = new WaitQueue<Permit>(permits, permitFactory);
  }

  /**
   * Waits for `weight` permits (default 1).
   * @throws {LockTimeoutError} when `timeoutMs` elapses first.
   * @throws {AbortError} when `signal` aborts first.
   * @throws {RangeError} synchronously, for a weight that is not a positive integer or
   *   exceeds the capacity, or a bad `timeoutMs`.
   */
  acquire(options?: SemaphoreAcquireOptions): Promise<Releaser> {
    const weight =
      options?.weight === undefined ? 1 : validateWeight(options.weight, this.#queue.capacity);
    return this.#queue.acquire(weight, options);
  }

  /** Takes `weight` permits only if they are free and nobody is queued. */
  tryAcquire(weight = 1): Releaser | undefined {
    return this.#queue.tryAcquire(validateWeight(weight, this.#queue.capacity));
  }

  /** Runs `fn` while holding the permits and releases them however `fn` ends. */
  runExclusive<T>(
    fn: () => T | PromiseLike<T>,
    options?: SemaphoreAcquireOptions,
  ): Promise<Awaited<T>> {
    return runWith(checkFn(fn), this.acquire(options));
  }

  /** Permits free right now (0 while anyone is queued). */
  get available(): number {
    return this.#queue.available;
  }

  /** Total permits, as passed to the constructor. */
  get capacity(): number {
    return this.#queue.capacity;
  }

  /** How many callers are queued. */
  get waiting(): number {
    return this.#queue.length;
  }
}
