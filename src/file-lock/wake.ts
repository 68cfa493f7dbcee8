import { type FSWatcher, watch } from "node:fs";
import { AbortError } from "../errors.js";
import { type AbortSubscriber, subscribe, unsubscribe } from "../internal/abort-watch.js";
import { BACKOFF, jitter, nextUpper } from "./backoff.js";

/**
 * How a waiter learns that a lock file may have been released: every release writes to
 * the file (or touches it), so a watch on it (inotify on Linux, kqueue on macOS, through
 * `fs.watch`) wakes the waiter within a fraction of a millisecond, with no thread-pool
 * thread parked and no polling while nothing changes. Polling remains as the safety net,
 * slower while the watch works: a holder killed by SIGKILL releases its lock without
 * writing anything, and some file systems (NFS, some FUSE mounts) report no changes.
 */
export class Wake implements AbortSubscriber {
  #watcher: FSWatcher | undefined;
  #signal: AbortSignal | undefined;
  #resolve: (() => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** A change arrived while no one was waiting: the next wait returns at once. */
  #changed = false;
  #upper = BACKOFF.firstMs;
  readonly #started = performance.now();

  constructor(path: string, signal: AbortSignal | undefined) {
    try {
      this.#watcher = watch(path, { persistent: true }, () => this.#fire(true));
      this.#watcher.on("error", () => this.#unwatch());
    } catch {
      // No watch (inotify limits, a file system without change events): poll only.
      this.#watcher = undefined;
    }
    this.#signal = signal;
    if (signal !== undefined) subscribe(signal, this);
  }

  /** Whether changes wake us; if not, polling alone finds the release. */
  get watching(): boolean {
    return this.#watcher !== undefined;
  }

  /**
   * Waits for a change to the file, or for the next poll (jittered backoff, longer while
   * the watch works), at most `maxMs`. Rejects with `AbortError` when the signal aborts.
   */
  next(maxMs: number): Promise<void> {
    if (this.#signal?.aborted) return Promise.reject(new AbortError(this.#signal.reason));
    if (this.#changed) {
      this.#changed = false;
      return Promise.resolve();
    }
    const waited = performance.now() - this.#started;
    let delay = jitter(this.#upper);
    this.#upper = nextUpper(this.#upper, waited, this.watching);
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

  #unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  /** Stops watching and listening; call however the wait ended. */
  close(): void {
    this.#settle();
    this.#unwatch();
    if (this.#signal !== undefined) unsubscribe(this.#signal, this);
  }
}
