import { AbortError, LockTimeoutError } from "./errors.js";
import { type AbortSubscriber, subscribe, unsubscribe } from "./internal/abort-watch.js";
import { describe } from "./internal/describe.js";
import { canonicalKeys, KeyedPool } from "./internal/keyed-pool.js";
import { type AcquireOptions, validateOptions } from "./internal/options.js";
import {
  checkFn,
  type Permit,
  permitFactory,
  type Releaser,
  ReleaserGroup,
  runWith,
} from "./internal/permit.js";
import { MAX_TIMER_MS } from "./internal/wait-queue.js";

/**
 * One FIFO mutex per key, for locks that belong to a resource (a file by its absolute
 * path, a session by its id) rather than one global lock.
 *
 * **Guarantee:** at most one holder per key at a time, granted in arrival order per
 * key; different keys never wait for each other.
 *
 * **Memory:** a key with neither holder nor waiter is forgotten at once, so `size`
 * returns to 0 and a million distinct keys over time cost nothing once released.
 *
 * **Fairness:** as {@link Mutex}, per key. `acquireMany` takes its keys in one
 * canonical order (duplicates collapsed), so two callers listing the same keys in
 * different orders cannot deadlock.
 *
 * **Cancellation:** as {@link Mutex}; `acquireMany` that gives up releases the keys it
 * already took.
 *
 * @example
 * ```ts
 * const files = new KeyedMutex<string>();
 * await files.runExclusive(path.resolve(file), async () => {
 *   const config = JSON.parse(await readFile(file, "utf8")); // the read belongs inside the lock
 *   config.count++;
 *   await writeFile(file, JSON.stringify(config));
 * });
 * ```
 */
export class KeyedMutex<K = string> {
  readonly #pool = new KeyedPool<K, Permit>(1, permitFactory);

  /** Waits for the lock on `key`. Throws as {@link Mutex.acquire}. */
  acquire(key: K, options?: AcquireOptions): Promise<Releaser> {
    return this.#pool.get(key).acquire(1, options);
  }

  /** Takes the lock on `key` only if it is free and nobody is queued for it. */
  tryAcquire(key: K): Releaser | undefined {
    return this.#pool.get(key).tryAcquire(1);
  }

  /** Runs `fn` while holding `key` and releases it however `fn` ends. */
  runExclusive<T>(
    key: K,
    fn: () => T | PromiseLike<T>,
    options?: AcquireOptions,
  ): Promise<Awaited<T>> {
    return runWith(checkFn(fn), this.acquire(key, options));
  }

  /**
   * Takes every key in `keys` (duplicates collapsed) in a canonical order, so callers
   * listing the same keys in any order cannot deadlock. `timeoutMs` bounds the whole
   * operation; on timeout or abort the keys already taken are released.
   *
   * @example
   * ```ts
   * using _ = await accounts.acquireMany([to, from], { timeoutMs: 1_000 });
   * ```
   */
  acquireMany(keys: Iterable<K>, options?: AcquireOptions): Promise<Releaser> {
    if (options !== undefined) validateOptions(options);
    // A string is iterable, and would lock each of its characters.
    if (
      typeof keys === "string" ||
      keys == null ||
      typeof (keys as Iterable<K>)[Symbol.iterator] !== "function"
    ) {
      throw new TypeError(
        `Expected \`keys\` to be an iterable of keys such as an array, got ${describe(keys)}${typeof keys === "string" ? "; wrap a single key in an array: [key]" : ""}`,
      );
    }
    return this.#acquireMany(canonicalKeys(keys), options?.signal, options?.timeoutMs);
  }

  async #acquireMany(
    keys: K[],
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ): Promise<Releaser> {
    if (signal?.aborted) throw new AbortError(signal.reason);
    // One timer for the whole set: each key's wait gets a signal that fires on the
    // caller's abort or on the shared deadline, whichever comes first.
    let inner = signal;
    let controller: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = Symbol("timeout");
    // Through the shared per-signal listener: hundreds of acquireMany calls on one
    // shutdown signal must not add a listener each.
    const forward: AbortSubscriber = { abortWith: (reason) => controller!.abort(reason) };
    if (timeoutMs !== undefined && timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS) {
      controller = new AbortController();
      inner = controller.signal;
      if (signal !== undefined) subscribe(signal, forward);
      timer = setTimeout(() => controller!.abort(timedOut), timeoutMs);
    }
    const perKey: AcquireOptions = { signal: inner, timeoutMs: timeoutMs === 0 ? 0 : undefined };
    const held: Releaser[] = [];
    try {
      for (const key of keys) held.push(await this.acquire(key, perKey));
      return new ReleaserGroup(held);
    } catch (err) {
      for (let i = held.length - 1; i >= 0; i--) held[i]!.release();
      if (err instanceof AbortError && err.cause === timedOut) {
        throw new LockTimeoutError(timeoutMs!);
      }
      if (err instanceof AbortError && signal?.aborted) throw new AbortError(signal.reason);
      throw err;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      if (signal !== undefined) unsubscribe(signal, forward);
    }
  }

  /** Whether `key` has a holder right now. */
  isLocked(key: K): boolean {
    const q = this.#pool.queues.get(key);
    return q !== undefined && q.available === 0;
  }

  /** How many callers are queued for `key`. */
  waiting(key: K): number {
    return this.#pool.queues.get(key)?.length ?? 0;
  }

  /** Keys with a holder or a waiter; idle keys are dropped, so this returns to 0. */
  get size(): number {
    return this.#pool.queues.size;
  }
}
