import type { ClaimTable } from "./claim-table.js";
import { ReservationLostError } from "./errors.js";

/**
 * An id or slot claimed synchronously by {@link IdAllocator.reserve} or
 * {@link SlotAllocator.reserve}: nobody else gets it until it is released.
 *
 * - `commit()` turns it into a registration (it then stays taken until
 *   `unregister(id)`); a second call does nothing.
 * - `release()` / `[Symbol.dispose]()` free an uncommitted reservation; after a commit,
 *   or a second time, they do nothing.
 *
 * A stale handle never frees what someone else now owns: every reservation carries its
 * own claim token, and `release` frees the id only while that same claim holds it.
 *
 * @example
 * ```ts
 * using r = ids.reserve("build"); // claimed now, before any await
 * await spawnWorker(r.id);
 * r.commit(); // without it, leaving the block releases the id
 * ```
 */
export interface Reservation<T> extends Disposable {
  /** The reserved id or slot. */
  readonly id: T;
  /**
   * Registers the id for good. Idempotent.
   * @throws {ReservationLostError} if it was released before.
   */
  commit(): void;
  /** Frees the id if it is still this uncommitted reservation's. Idempotent. */
  release(): void;
}

/** @internal */
export class ClaimReservation<T> implements Reservation<T> {
  readonly id: T;
  readonly #table: ClaimTable<T>;
  readonly #token: number;

  constructor(table: ClaimTable<T>, id: T, token: number) {
    this.#table = table;
    this.id = id;
    this.#token = token;
  }

  commit(): void {
    if (!this.#table.commit(this.id, this.#token)) {
      throw new ReservationLostError(
        String(this.id),
        "it was released before commit(); reserve again",
      );
    }
  }

  release(): void {
    this.#table.release(this.id, this.#token);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}
