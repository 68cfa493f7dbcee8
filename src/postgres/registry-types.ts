// Mirror of src/ids/types.ts and of the registry errors in src/ids/errors.ts (branch
// feat/ids, not merged yet): the same names and shapes, so the PostgreSQL registry is a
// drop-in for a FileRegistry. The lead unifies on merge: this file then re-exports from
// ../ids/.
import { InterlockError } from "../errors.js";

/**
 * The process that made a registry entry.
 *
 * @example
 * ```ts
 * const owner: RegistryOwner = { pid: process.pid, processStartTime: processStartTime(process.pid), hostname: os.hostname() };
 * ```
 */
export interface RegistryOwner {
  /** Its process id on `hostname`. */
  pid: number;
  /**
   * `processStartTime` of `pid` when the entry was made; tells the owner from a
   * later process that reused the PID. Absent where the platform has no source for it
   * (then liveness rests on the PID alone, erring towards "alive").
   */
  processStartTime?: number;
  /** `os.hostname()` of the owner's host. Liveness is only ever checked on the same host. */
  hostname: string;
}

/**
 * One entry of a `Registry`: an id (and optionally a slot) claimed by an owner.
 *
 * @example
 * ```ts
 * for (const e of await registry.list()) {
 *   console.log(e.id, e.slot ?? "-", e.status, `pid ${e.owner.pid}`, new Date(e.createdAt).toISOString());
 * }
 * ```
 */
export interface RegistryEntry<D = unknown> {
  /** The claimed id: unique in the registry. */
  id: string;
  /** The claimed slot, unique among the entries that have one; `undefined` if none was asked for. */
  slot?: number;
  /**
   * `"pending"`: reserved, the owner is still working on it (provisioning); it may
   * commit or abort. `"active"`: committed; it stays until someone releases it.
   */
  status: "pending" | "active";
  /** Who reserved it. */
  owner: RegistryOwner;
  /**
   * The caller's JSON data: what `reserve({data})` gave, replaced by `commit(data)` if
   * that passes one; `null` when neither did.
   */
  data: D | null;
  /** When it was reserved, in milliseconds since the epoch (`Date.now()` of the owner). */
  createdAt: number;
}

/**
 * What `Registry.reserve` claims.
 *
 * - `id`: exactly this id; taken → `IdTakenError` (`EIDTAKEN`).
 * - `base`: the first free id of `base`, `base-2`, `base-3`, … (or the registry's
 *   `format`). Give `id` or `base`, not both; neither means `base: "entry"`.
 * - `slot`: also claim the lowest free integer in `[min, max]` (inclusive); all taken →
 *   `IdsExhaustedError` (`EIDSEXHAUSTED`).
 * - `data`: JSON data stored with the entry (plain objects, arrays, strings, finite
 *   numbers, booleans, `null`).
 * - `signal`, `timeoutMs`: bound the wait for the registry's lock, as everywhere in
 *   interlock (`AbortError`, `LockTimeoutError`); nothing is written then.
 *
 * @example
 * ```ts
 * const options: ReserveOptions<{ branch: string }> = {
 *   base: "session",
 *   slot: { min: 0, max: 15 },
 *   data: { branch: "main" },
 *   timeoutMs: 10_000,
 * };
 * ```
 */
export interface ReserveOptions<D = unknown> {
  id?: string | undefined;
  base?: string | undefined;
  slot?: { min: number; max: number } | undefined;
  data?: D | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/**
 * A reservation in a `Registry`: visible to everyone as `"pending"` until
 * `commit` makes it `"active"` or `abort` drops it. Holds no lock.
 *
 * `await using` aborts it if it was not committed, and does nothing if it was (or if it
 * is already gone).
 *
 * @example
 * ```ts
 * await using entry = await registry.reserve({ base: "session", slot: { min: 0, max: 7 } });
 * await provision(entry.id, entry.slot!); // slow; no lock is held
 * await entry.commit({ port: 7000 + entry.slot! });
 * ```
 */
export interface PendingEntry<D = unknown> extends AsyncDisposable {
  /** The reserved id. */
  readonly id: string;
  /** The reserved slot, or `undefined` if none was asked for. */
  readonly slot: number | undefined;
  /**
   * Makes the entry `"active"` (with `data` if given) under a brief lock. A second call
   * returns the first call's promise. Rejects with `ReservationLostError` if the entry
   * was released, reclaimed or aborted meanwhile; nothing is written then.
   */
  commit(data?: D): Promise<RegistryEntry<D>>;
  /**
   * Drops the pending entry under a brief lock, freeing its id and slot. Does nothing
   * after a successful commit; a second call returns the first call's promise. Rejects
   * with `ReservationLostError` if it was already gone, and never removes an entry that
   * another claim made since.
   */
  abort(): Promise<void>;
}

/**
 * Options of {@link Registry.reclaim}. `force: false` (the default) drops pending
 * entries whose owner is provably dead on this host (what `reserve` and `list` do by
 * themselves). `force: true` drops, in addition, pending entries owned by *other*
 * hosts, whose liveness cannot be checked from here: use it when you know those hosts
 * are down. Active entries, and pending entries of live processes on this host, are
 * never dropped by `reclaim`; `release(id)` removes any one entry.
 *
 * @example
 * ```ts
 * const dropped = await registry.reclaim({ force: true });
 * ```
 */
export interface ReclaimOptions {
  force?: boolean | undefined;
}

/**
 * A registry of ids and slots shared by processes: reserve under a short lock, work
 * without it, then commit or abort. Implemented by `FileRegistry`.
 *
 * @example
 * ```ts
 * async function up(registry: Registry<{ port: number }>, name: string) {
 *   await using entry = await registry.reserve({ id: name, slot: { min: 0, max: 15 } });
 *   await provision(entry.id);
 *   return entry.commit({ port: 7000 + entry.slot! });
 * }
 * ```
 */
export interface Registry<D = unknown> {
  /** Claims an id (and a slot) as a `"pending"` entry. */
  reserve(options?: ReserveOptions<D>): Promise<PendingEntry<D>>;
  /** Every entry, pending and active, in the order they were reserved; never waits for provisioning. */
  list(): Promise<RegistryEntry<D>[]>;
  /** The entry with this id, or `undefined`. */
  get(id: string): Promise<RegistryEntry<D> | undefined>;
  /** Removes the entry with this id, whatever its status and owner; `false` if there was none. */
  release(id: string): Promise<boolean>;
  /** Drops abandoned pending entries (see {@link ReclaimOptions}) and returns them. */
  reclaim(options?: ReclaimOptions): Promise<RegistryEntry<D>[]>;
}

/**
 * Every id or slot of a range is taken: `SlotAllocator.reserve` or a
 * `FileRegistry` `reserve({slot: {min, max}})` found no free integer in
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
  /** The registry file, for a `FileRegistry`; `undefined` in-process. */
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
 * (`IdAllocator`), `"pending"` / `"active"` in a `Registry`.
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
  /** The registry file, for a `FileRegistry`; `undefined` in-process. */
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
  /** The registry file, for a `FileRegistry`; `undefined` in-process. */
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
