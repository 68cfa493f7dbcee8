// The registry contract: what a FileRegistry (and any other backend, e.g. PostgreSQL)
// stores and offers. Types only; no logic lives here.

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
   * {@link processStartTime} of `pid` when the entry was made; tells the owner from a
   * later process that reused the PID. Absent where the platform has no source for it
   * (then liveness rests on the PID alone, erring towards "alive").
   */
  processStartTime?: number;
  /** `os.hostname()` of the owner's host. Liveness is only ever checked on the same host. */
  hostname: string;
}

/**
 * One entry of a {@link Registry}: an id (and optionally a slot) claimed by an owner.
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
 * What {@link Registry.reserve} claims.
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
 * A reservation in a {@link Registry}: visible to everyone as `"pending"` until
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
 * without it, then commit or abort. Implemented by {@link FileRegistry}.
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
