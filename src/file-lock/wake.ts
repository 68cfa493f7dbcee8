import { AbortError } from "../errors.js";
import { type AbortSubscriber, subscribe, unsubscribe } from "../internal/abort-watch.js";
import { BACKOFF, jitter, nextUpper } from "./backoff.js";
import type { FileWatch } from "./file-watch.js";

/**
 * How a waiter learns that a lock file may have been released: every release writes to
 * the file (or touches it), so a watch on it (inotify on Linux, kqueue on macOS, through
 * `fs.watch`) wakes the waiter within a fraction of a millisecond, with no thread-pool
 * thread parked and no polling while nothing changes. Polling remains as the safety net,
 * slower while the watch works: a holder killed by SIGKILL releases its lock without
 * writing anything, and some file systems (NFS, some FUSE mounts) report no changes.
 */
export class Wake implements AbortSubscriber {
  readonly #watch: FileWatch;
  readonly #onChange = () => this.#fire(true);
  #signal: AbortSignal | undefined;
  #resolve: (() => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** A change arrived while no one was waiting: the next wait returns at once. */
  #changed = false;
  /** Whether the last wait ended with a change (rather than a poll). */
  #woke = false;
  #upper = BACKOFF.firstMs;
  readonly #started = performance.now();

  constructor(watch: FileWatch, signal: AbortSignal | undefined) {
    this.#watch = watch;
    watch.on(this.#onChange);
    this.#signal = signal;
    if (signal !== undefined) subscribe(signal, this);
  }

  /** Whether the last wait ended with a change to the file (rather than a poll). */
  get woke(): boolean {
    return this.#woke;
  }

  /**
   * Waits for a change to the file, or for the next poll (jittered backoff, longer while
   * the watch works), at most `maxMs`, and at most `soonMs` when given (a second look
   * soon after a release seen in the middle). Rejects with `AbortError` when the signal
   * aborts.
   */
  next(maxMs: number, soonMs?: number): Promise<void> {
    if (this.#signal?.aborted) return Promise.reject(new AbortError(this.#signal.reason));
    if (this.#changed) {
      this.#changed = false;
      this.#woke = true;
      return Promise.resolve();
    }
    const waited = performance.now() - this.#started;
    let delay = jitter(this.#upper);
    this.#upper = nextUpper(this.#upper, waited, this.#watch.working);
    if (soonMs !== undefined && delay > soonMs) delay = soonMs;
    if (delay > maxMs) delay = Math.max(0, maxMs);
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#timer = setTimeout(() => this.#fire(false), delay);
    });
  }

  #fire(changed: boolean): void {
    const resolve = this.#resolve;
    if (resolve === undefined) {
      if (changed) this.#changed = true;
      return;
    }
    this.#woke = changed;
    this.#settle();
    resolve();
  }

  abortWith(reason: unknown): void {
    const reject = this.#reject;
    if (reject === undefined) return;
    this.#settle();
    reject(new AbortError(reason));
  }

  #settle(): void {
    this.#resolve = this.#reject = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stops listening; call however the wait ended. The watch itself stays for the next waiter. */
  close(): void {
    this.#settle();
    this.#watch.off(this.#onChange);
    if (this.#signal !== undefined) unsubscribe(this.#signal, this);
  }
}
