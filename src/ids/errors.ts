import { InterlockError } from "../errors.js";
import type { RegistryEntry, RegistryOwner } from "./types.js";

/**
 * Every id or slot of a range is taken: {@link SlotAllocator.reserve} or a
 * {@link FileRegistry} `reserve({slot: {min, max}})` found no free integer in
 * `[min, max]`. Nothing was reserved or written.
 *
 * @example
 * ```ts
 * try {
 *   using slot = slots.reserve();
 * } catch (err) {
 *   if (err instanceof IdsExhaustedError) console.error(`all ${err.max - err.min + 1} slots in use`);
 *   else throw err;
 * }
 * ```
 */
export class IdsExhaustedError extends InterlockError {
  declare readonly code: "EIDSEXHAUSTED";
  /** Lowest slot of the range. */
  readonly min: number;
  /** Highest slot of the range. */
  readonly max: number;
  /** The registry file, for a {@link FileRegistry}; `undefined` in-process. */
  readonly path: string | undefined;

  constructor(min: number, max: number, path?: string, options?: ErrorOptions) {
    const where = path === undefined ? "" : ` in ${path}`;
    super(
      "EIDSEXHAUSTED",
      `Every slot from ${min} to ${max} is taken${where}; release one, or widen the range`,
      options,
    );
    this.min = min;
    this.max = max;
    this.path = path;
  }
}

/**
 * What holds an id that was asked for by name: `"reserved"` / `"registered"` in-process
 * ({@link IdAllocator}), `"pending"` / `"active"` in a {@link Registry}.
 */
export type TakenStatus = "reserved" | "registered" | "pending" | "active";

/**
 * The exact id asked for is taken. The message names its status and, for a registry,
 * its owner: `Id "web" is taken (pending: another operation is in progress, pid 4242
 * alive since 2025-01-31T10:00:00.000Z)`, so a CLI can print it as is.
 *
 * @example
 * ```ts
 * try {
 *   await registry.reserve({ id: name });
 * } catch (err) {
 *   if (err instanceof IdTakenError && err.status === "pending") {
 *     console.error(`${name}: ${err.message}; try again when it finishes`);
 *   } else throw err;
 * }
 * ```
 */
export class IdTakenError extends InterlockError {
  declare readonly code: "EIDTAKEN";
  /** The id that was asked for. */
  readonly id: string;
  /** What holds it. */
  readonly status: TakenStatus;
  /** Who holds it, for a registry entry; `undefined` in-process. */
  readonly owner: RegistryOwner | undefined;
  /** The registry file, for a {@link FileRegistry}; `undefined` in-process. */
  readonly path: string | undefined;

  constructor(
    id: string,
    status: TakenStatus,
    detail: string,
    owner?: RegistryOwner,
    path?: string,
    options?: ErrorOptions,
  ) {
    super("EIDTAKEN", `Id ${JSON.stringify(id)} is taken (${detail})`, options);
    this.id = id;
    this.status = status;
    this.owner = owner;
    this.path = path;
  }
}

/**
 * A reservation was committed or aborted after it stopped existing: an operator
 * released it (`registry.release(id)`, `reclaim({force: true})`), another process
 * reclaimed it because its owner looked dead, or it was aborted already. Nothing was
 * changed: a lost reservation is never resurrected, and never removes the entry of
 * whoever holds the id now (`current`).
 *
 * @example
 * ```ts
 * try {
 *   await entry.commit({ port });
 * } catch (err) {
 *   if (err instanceof ReservationLostError) await teardown(entry.id); // it is not ours any more
 *   throw err;
 * }
 * ```
 */
export class ReservationLostError extends InterlockError {
  declare readonly code: "ERESERVATIONLOST";
  /** The id of the lost reservation. */
  readonly id: string;
  /** The entry that holds the id now, if another claim took it since; else `undefined`. */
  readonly current: RegistryEntry<unknown> | undefined;
  /** The registry file, for a {@link FileRegistry}; `undefined` in-process. */
  readonly path: string | undefined;

  constructor(
    id: string,
    why: string,
    current?: RegistryEntry<unknown>,
    path?: string,
    options?: ErrorOptions,
  ) {
    super("ERESERVATIONLOST", `The reservation of ${JSON.stringify(id)} is lost: ${why}`, options);
    this.id = id;
    this.current = current;
    this.path = path;
  }
}

/**
 * The registry file parses as JSON but is not a registry this version understands: a
 * newer format version, or entries that are not well-formed. The file is left as
 * found.
 *
 * @example
 * ```ts
 * try {
 *   await registry.list();
 * } catch (err) {
 *   if (err instanceof RegistryFormatError) console.error(`${err.path}: ${err.message}`);
 *   else throw err;
 * }
 * ```
 */
export class RegistryFormatError extends InterlockError {
  declare readonly code: "EREGISTRYFORMAT";
  /** The registry file. */
  readonly path: string;

  constructor(path: string, problem: string, options?: ErrorOptions) {
    super(
      "EREGISTRYFORMAT",
      `Registry file ${path} is not a registry this version of interlock can use: ${problem}. It was left untouched`,
      options,
    );
    this.path = path;
  }
}
