import { describe } from "../internal/describe.js";
import { ClaimTable } from "./claim-table.js";
import { IdTakenError } from "./errors.js";
import { firstFreeId, type IdFormat, validateFormat, validateId } from "./naming.js";
import { ClaimReservation, type Reservation } from "./reservation.js";

/**
 * Options of {@link IdAllocator}: `format(base, n)` makes the `n`-th candidate id of a
 * base (`n` = 1, 2, 3, …); the default gives `base`, `base-2`, `base-3`, ….
 *
 * @example
 * ```ts
 * const ids = new IdAllocator({ format: (base, n) => `${base}#${n}` }); // build#1, build#2
 * ```
 */
export interface IdAllocatorOptions {
  format?: IdFormat | undefined;
}

/**
 * Unique ids inside one process, claimed at the moment they are chosen.
 *
 * **Guarantee:** `reserve(base)` checks and claims in one synchronous step, so no two
 * live reservations or registrations ever share an id, however many callers reserve
 * before their first `await`.
 *
 * The bug this prevents: ids checked against *registered* workers while registration
 * happened after awaits, so two spawns that started together picked the same id.
 * Reserve first, register (commit) when the work succeeded, release when it failed.
 *
 * **Fairness:** not applicable: nothing waits. Ids are chosen lowest-`n` first, so a
 * freed id is handed out again.
 *
 * **Cancellation:** nothing to cancel; release (or dispose) a reservation you no
 * longer need.
 *
 * Cost: `reserve` tries candidates `n` = 1, 2, … and is linear in the number of ids
 * taken for that base.
 *
 * @example
 * ```ts
 * const ids = new IdAllocator();
 * async function spawnAgent(name: string) {
 *   using r = ids.reserve(name); // "reviewer", then "reviewer-2", …
 *   const agent = await startAgent(r.id);
 *   r.commit(); // keep it; if startAgent threw, leaving the block released it
 *   return agent;
 * }
 * // later, when the agent exits: ids.unregister(agent.id);
 * ```
 */
export class IdAllocator {
  readonly #table = new ClaimTable<string>();
  readonly #format: IdFormat;

  /** @throws {TypeError} synchronously if `format` is not a function. */
  constructor(options: IdAllocatorOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    this.#format = validateFormat(options.format);
  }

  /** How many ids are reserved or registered. */
  get size(): number {
    return this.#table.size;
  }

  /**
   * Claims the first free id of `base` (`base`, `base-2`, … or per `format`),
   * synchronously.
   *
   * @throws {TypeError} synchronously for an empty or non-string `base`, or a `format`
   *   that returns something other than a non-empty string or repeats itself.
   *
   * @example
   * ```ts
   * const a = ids.reserve("build"); // "build"
   * const b = ids.reserve("build"); // "build-2", even before anything awaited
   * ```
   */
  reserve(base: string): Reservation<string> {
    validateId(base, "base");
    const table = this.#table;
    const id = firstFreeId(base, this.#format, (c) => table.has(c), table.size);
    return new ClaimReservation(table, id, table.reserve(id));
  }

  /**
   * Marks `id` as taken by something that exists already (e.g. found at startup).
   *
   * @throws {IdTakenError} if it is reserved or registered.
   * @throws {TypeError} synchronously for an empty or non-string id.
   *
   * @example
   * ```ts
   * for (const s of await loadExistingSessions()) ids.register(s.id);
   * ```
   */
  register(id: string): void {
    validateId(id, "id");
    const status = this.#table.status(id);
    if (status !== undefined) {
      throw new IdTakenError(
        id,
        status,
        status === "reserved" ? "reserved, not yet committed" : "registered",
      );
    }
    this.#table.register(id);
  }

  /**
   * Frees a registered (or committed) id. Returns `false` if it was not registered;
   * an uncommitted reservation is freed only through its own handle.
   *
   * @example
   * ```ts
   * agent.on("exit", () => ids.unregister(agent.id));
   * ```
   */
  unregister(id: string): boolean {
    return this.#table.unregister(id);
  }

  /**
   * Whether `id` is reserved or registered.
   *
   * @example
   * ```ts
   * if (ids.has("build")) console.log("a build is running or starting");
   * ```
   */
  has(id: string): boolean {
    return this.#table.has(id);
  }
}
