import { describe } from "../internal/describe.js";
import { ClaimTable } from "./claim-table.js";
import { IdsExhaustedError, IdTakenError } from "./errors.js";
import { validateRange } from "./naming.js";
import { ClaimReservation, type Reservation } from "./reservation.js";

/**
 * Options of {@link SlotAllocator}: the inclusive range of slots, integers with
 * `min <= max`.
 *
 * @example
 * ```ts
 * const options: SlotAllocatorOptions = { min: 0, max: 7 };
 * ```
 */
export interface SlotAllocatorOptions {
  min: number;
  max: number;
}

/**
 * Numbered slots (ports, display numbers, worker indexes) inside one process.
 *
 * **Guarantee:** `reserve()` claims the lowest free integer of `[min, max]` in one
 * synchronous step, so no two live reservations or registrations ever share a slot;
 * when every slot is taken it throws {@link IdsExhaustedError} instead of reusing one.
 *
 * **Fairness:** not applicable: nothing waits. Always the lowest free slot, so freed
 * slots are handed out again first.
 *
 * **Cancellation:** nothing to cancel; release (or dispose) a reservation you no
 * longer need.
 *
 * @example
 * ```ts
 * const slots = new SlotAllocator({ min: 0, max: 7 });
 * using slot = slots.reserve(); // 0, then 1, …
 * const server = await listen(9000 + slot.id);
 * slot.commit(); // later: slots.unregister(slot.id)
 * ```
 */
export class SlotAllocator {
  /** Lowest slot. */
  readonly min: number;
  /** Highest slot. */
  readonly max: number;
  readonly #table: ClaimTable<number>;
  // Every slot in [min, #lowest) is taken, so the search for a free one starts here.
  #lowest: number;

  /**
   * @throws {TypeError} synchronously if `options` is not an object.
   * @throws {RangeError} synchronously if `min`/`max` are not integers or `min > max`.
   */
  constructor(options: SlotAllocatorOptions) {
    const { min, max } = validateRange(options, "options");
    this.min = min;
    this.max = max;
    this.#lowest = min;
    this.#table = new ClaimTable<number>((slot) => {
      if (slot < this.#lowest) this.#lowest = slot;
    });
  }

  /** How many slots are free. */
  get available(): number {
    return this.max - this.min + 1 - this.#table.size;
  }

  /**
   * Claims the lowest free slot, synchronously.
   *
   * @throws {IdsExhaustedError} (`EIDSEXHAUSTED`) if every slot is taken.
   *
   * @example
   * ```ts
   * using slot = slots.reserve();
   * ```
   */
  reserve(): Reservation<number> {
    let s = this.#lowest;
    while (s <= this.max && this.#table.has(s)) s++;
    this.#lowest = s;
    if (s > this.max) throw new IdsExhaustedError(this.min, this.max);
    return new ClaimReservation(this.#table, s, this.#table.reserve(s));
  }

  /**
   * Marks `slot` as taken by something that exists already.
   *
   * @throws {IdTakenError} if it is reserved or registered.
   * @throws {RangeError} synchronously if it is not an integer in `[min, max]`.
   *
   * @example
   * ```ts
   * slots.register(3); // found a worker on slot 3 at startup
   * ```
   */
  register(slot: number): void {
    this.#check(slot);
    const status = this.#table.status(slot);
    if (status !== undefined) {
      throw new IdTakenError(
        String(slot),
        status,
        status === "reserved" ? "reserved, not yet committed" : "registered",
      );
    }
    this.#table.register(slot);
  }

  /**
   * Frees a registered (or committed) slot. Returns `false` if it was not registered;
   * an uncommitted reservation is freed only through its own handle.
   *
   * @example
   * ```ts
   * worker.on("exit", () => slots.unregister(worker.slot));
   * ```
   */
  unregister(slot: number): boolean {
    return this.#table.unregister(slot);
  }

  /**
   * Whether `slot` is reserved or registered.
   *
   * @example
   * ```ts
   * slots.has(0); // true while slot 0 is in use
   * ```
   */
  has(slot: number): boolean {
    return this.#table.has(slot);
  }

  #check(slot: unknown): void {
    if (
      typeof slot !== "number" ||
      !Number.isSafeInteger(slot) ||
      slot < this.min ||
      slot > this.max
    ) {
      throw new RangeError(
        `Expected a slot: an integer from ${this.min} to ${this.max}, got ${describe(slot)}`,
      );
    }
  }
}
