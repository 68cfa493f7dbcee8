import { AbortError, LockTimeoutError } from "../errors.js";
import { type AbortSubscriber, subscribe, unsubscribe } from "./abort-watch.js";
import type { AcquireOptions } from "./options.js";
import { validateOptions } from "./options.js";

// setTimeout fires at once (with a warning) above this; a longer wait is "forever".
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Turns granted permits into the handle a primitive hands to its caller. */
export type HandleFactory<H> = (queue: WaitQueue<H>, weight: number) => H;

/** A map of queues that wants to hear when one of them falls idle, so it can drop it. */
export interface QueuePool<H> {
  drop(queue: WaitQueue<H>): void;
}

/** One waiter in the queue. */
class Waiter<H> implements AbortSubscriber {
  prev: Waiter<H> | null = null;
  next: Waiter<H> | null = null;
  /** Permits still missing; the head waiter may already hold some (partial assignment). */
  need: number;
  queued = true;
  signal: AbortSignal | undefined = undefined;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  timeoutMs = 0;
  resolve!: (handle: H) => void;
  reject!: (err: unknown) => void;

  constructor(
    readonly queue: WaitQueue<H>,
    readonly weight: number,
  ) {
    this.need = weight;
  }

  abortWith(reason: unknown): void {
    this.queue.cancel(this, new AbortError(reason));
  }
}

function onTimeout<H>(w: Waiter<H>): void {
  w.timer = undefined;
  w.queue.cancel(w, new LockTimeoutError(w.timeoutMs));
}

/**
 * The one FIFO wait queue under every interlock primitive (the shape of tokio's
 * batch semaphore).
 *
 * - Permits are weighted. A mutex is capacity 1; a read/write lock is capacity
 *   `MAX_READERS`, a read takes 1 and a write takes all of them, so reader/writer
 *   fairness falls out of plain FIFO order.
 * - Release hands permits to the head waiter directly (hand-off): a newcomer can never
 *   slip in between a release and the wake-up of the waiter it was meant for, and
 *   `tryAcquire` fails whenever anyone is queued.
 * - Freed permits are assigned to the head even when it cannot be satisfied yet
 *   (partial assignment), which is what stops later, smaller waiters from overtaking it.
 * - Cancellation (abort or timeout) unlinks the waiter at once and gives back whatever
 *   was already assigned to it, which may in turn grant the waiters behind it.
 *
 * Invariant: when anyone is queued, `available === 0`.
 */
export class WaitQueue<H> {
  available: number;
  length = 0;
  private head: Waiter<H> | null = null;
  private tail: Waiter<H> | null = null;

  constructor(
    readonly capacity: number,
    private readonly makeHandle: HandleFactory<H>,
    private readonly pool: QueuePool<H> | null = null,
    /** The key this queue serves in its pool. */
    readonly key: unknown = undefined,
  ) {
    this.available = capacity;
  }

  /** Permits held by grantees, not counting those parked on a partially served head. */
  get outstanding(): number {
    const h = this.head;
    return this.capacity - this.available - (h === null ? 0 : h.weight - h.need);
  }

  get idle(): boolean {
    return this.head === null && this.available === this.capacity;
  }

  tryAcquire(weight: number): H | undefined {
    if (this.head === null && this.available >= weight) {
      this.available -= weight;
      return this.makeHandle(this, weight);
    }
    return undefined;
  }

  acquire(weight: number, options: AcquireOptions | undefined): Promise<H> {
    let signal: AbortSignal | undefined;
    let timeoutMs: number | undefined;
    if (options !== undefined) {
      try {
        validateOptions(options);
      } catch (err) {
        // A keyed pool may have created this queue just for this call.
        this.dropIfIdle();
        throw err;
      }
      signal = options.signal;
      timeoutMs = options.timeoutMs;
      if (signal?.aborted) {
        this.dropIfIdle();
        return Promise.reject(new AbortError(signal.reason));
      }
    }
    if (this.head === null && this.available >= weight) {
      this.available -= weight;
      return Promise.resolve(this.makeHandle(this, weight));
    }
    if (timeoutMs === 0) {
      this.dropIfIdle();
      return Promise.reject(new LockTimeoutError(0));
    }

    const w = new Waiter(this, weight);
    if (this.tail === null) {
      // First in line: whatever is free now is assigned to it (see the invariant).
      w.need = weight - this.available;
      this.available = 0;
      this.head = this.tail = w;
    } else {
      w.prev = this.tail;
      this.tail.next = w;
      this.tail = w;
    }
    this.length++;
    const promise = new Promise<H>((resolve, reject) => {
      w.resolve = resolve;
      w.reject = reject;
    });
    if (signal !== undefined) {
      w.signal = signal;
      subscribe(signal, w);
    }
    if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) {
      w.timeoutMs = timeoutMs;
      w.timer = setTimeout(onTimeout, timeoutMs, w);
    }
    return promise;
  }

  /** Returns `n` permits: the head waiters are served first, the rest goes to the pool. */
  release(n: number): void {
    let w = this.head;
    while (w !== null && n > 0) {
      if (n < w.need) {
        w.need -= n;
        return;
      }
      n -= w.need;
      w.need = 0;
      this.unlink(w);
      if (w.signal?.aborted) {
        // Its signal fired but our listener has not run yet (a listener registered
        // earlier on the same signal released a lock first): an aborted waiter is never
        // granted, so it gives everything back instead.
        n += w.weight;
        w.reject(new AbortError(w.signal.reason));
      } else {
        w.resolve(this.makeHandle(this, w.weight));
      }
      w = this.head;
    }
    this.available += n;
    if (this.pool !== null && this.head === null && this.available === this.capacity) {
      this.pool.drop(this);
    }
  }

  /** Removes a waiter that gave up, never to be granted, and passes on what it was given. */
  cancel(w: Waiter<H>, reason: unknown): void {
    if (!w.queued) return;
    const assigned = w.weight - w.need;
    this.unlink(w);
    w.reject(reason);
    this.release(assigned);
  }

  private unlink(w: Waiter<H>): void {
    w.queued = false;
    if (w.prev === null) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === null) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = null;
    this.length--;
    if (w.signal !== undefined) unsubscribe(w.signal, w);
    if (w.timer !== undefined) clearTimeout(w.timer);
  }

  private dropIfIdle(): void {
    if (this.pool !== null && this.idle) this.pool.drop(this);
  }
}
