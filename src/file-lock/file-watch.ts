import { type FSWatcher, watch } from "node:fs";

/**
 * One watch on one lock file (or gate) for the whole process, shared by every waiter of
 * it and kept between waits: creating an `fs.watch` costs tens of microseconds, more
 * than a hand-off should take. It holds no event loop open by itself (`persistent:
 * false`); a waiter keeps the process alive with its poll timer.
 */
export class FileWatch {
  readonly #listeners = new Set<() => void>();
  #watcher: FSWatcher | undefined;

  /** `target` identifies the open file watched; a replaced file needs a new watch. */
  constructor(
    path: string,
    readonly target: unknown,
  ) {
    try {
      this.#watcher = watch(path, { persistent: false }, () => {
        for (const l of this.#listeners) l();
      });
      this.#watcher.on("error", () => this.close());
    } catch {
      // No watch (inotify limits, a file system without change events): waiters poll.
      this.#watcher = undefined;
    }
  }

  /** Whether changes are reported; if not, polling alone finds a release. */
  get working(): boolean {
    return this.#watcher !== undefined;
  }

  on(listener: () => void): void {
    this.#listeners.add(listener);
  }

  off(listener: () => void): void {
    this.#listeners.delete(listener);
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
