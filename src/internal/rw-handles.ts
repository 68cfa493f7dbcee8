import { InterlockError } from "../errors.js";
import { Permit } from "./permit.js";
import type { WaitQueue } from "./wait-queue.js";

/**
 * A read/write lock is a wait queue of this capacity: a read takes one permit and a
 * write takes all of them, so FIFO order in the queue is FIFO order of phases.
 */
export const MAX_READERS = 2 ** 30;

/** A held write lock. Besides release, it can turn into a read lock in place. */
export interface WriteReleaser extends Disposable {
  /** Gives the write lock back. Idempotent. */
  release(): void;
  /**
   * Turns this write lock into a read lock without a gap: readers queued at the head
   * join at once, no writer can get in between. The write handle is spent afterwards.
   * @throws {InterlockError} `ELOCKRELEASED` if this handle was already released or
   *   downgraded.
   */
  downgrade(): import("./permit.js").Releaser;
}

export class WritePermit extends Permit implements WriteReleaser {
  downgrade(): Permit {
    const q = this.queue;
    if (q === null) {
      throw new InterlockError(
        "ELOCKRELEASED",
        "Cannot downgrade a write lock that was already released or downgraded; take a new read lock instead",
      );
    }
    this.queue = null;
    const read = new Permit(q, 1);
    q.release(MAX_READERS - 1);
    return read;
  }
}

export function rwFactory(queue: WaitQueue<Permit>, weight: number): Permit {
  return weight === MAX_READERS ? new WritePermit(queue, weight) : new Permit(queue, weight);
}

export function readersOf(q: WaitQueue<Permit> | undefined): number {
  if (q === undefined) return 0;
  const out = q.outstanding;
  return out === MAX_READERS ? 0 : out;
}

export function isWriteLocked(q: WaitQueue<Permit> | undefined): boolean {
  return q !== undefined && q.outstanding === MAX_READERS;
}
