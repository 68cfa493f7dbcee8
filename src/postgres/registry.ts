import { LockTimeoutError } from "../errors.js";
import { checkJsonData } from "../ids/json-data.js";
import { RegistryPendingEntry } from "../ids/pending-entry.js";
import { describe } from "../internal/describe.js";
import { validateOptions } from "../internal/options.js";
import { type BackendContext, type TxQuery, transaction } from "./context.js";
import { type RegistryRow, toEntry } from "./registry-entry.js";
import {
  defaultFormat,
  describeHolder,
  MAX_ATTEMPTS,
  type RegistryIdFormat,
  validateId,
  validateRange,
} from "./registry-naming.js";
import {
  IdsExhaustedError,
  IdTakenError,
  type PendingEntry,
  type ReclaimOptions,
  type Registry,
  type RegistryEntry,
  ReservationLostError,
  type ReserveOptions,
} from "./registry-types.js";

/**
 * Options of `backend.registry(name, options)`.
 *
 * @example
 * ```ts
 * const options: PostgresRegistryOptions = { format: (base, n) => `${base}${n}` };
 * ```
 */
export interface PostgresRegistryOptions {
  format?: RegistryIdFormat | undefined;
}

/**
 * A registry of ids and slots in PostgreSQL, shared by processes on any number of hosts:
 * reserve under a short transaction, work without holding anything, then commit or
 * abort. The `FileRegistry` interface, with liveness that works across hosts.
 *
 * **Guarantee:** an id, and a slot, belongs to at most one entry at a time (the table's
 * primary key and a unique index say so, not a client-side check); a pending entry
 * stays until its owner commits or aborts it, or its owner is dead, and a commit or
 * abort of an entry that was reclaimed, released or re-reserved since fails with
 * `ReservationLostError` and changes nothing.
 *
 * **Liveness:** each backend holds an owner lock (a session advisory lock with the
 * backend's lease) while it has registry work; an owner is alive exactly while the
 * server sees that lock held. A crashed, killed, paused (for longer than its lease) or
 * partitioned owner loses it, and `reserve`, `list` and `reclaim` then drop its
 * pending entries, on any host. `reclaim({ force })` accepts `force` for interface
 * compatibility; there is no owner whose liveness cannot be checked here, so it drops
 * the same entries. Active entries are only ever removed by `release(id)`.
 *
 * **Fairness / Cancellation:** `reserve` takes `signal` and `timeoutMs` for its waits
 * (a connection, row locks of concurrent reservations, the owner lock).
 *
 * @example
 * ```ts
 * const workers = backend.registry<{ host: string }>("workers");
 * await using entry = await workers.reserve({ base: "worker", slot: { min: 0, max: 31 } });
 * await startWorker(entry.id, entry.slot!); // slow; nothing is held
 * await entry.commit({ host: os.hostname() });
 * ```
 */
export class PostgresRegistry<D = unknown> implements Registry<D> {
  readonly name: string;
  readonly #ctx: BackendContext;
  readonly #format: RegistryIdFormat;

  /** @internal Use `backend.registry(name)`. */
  constructor(ctx: BackendContext, name: string, options: PostgresRegistryOptions | undefined) {
    this.#ctx = ctx;
    this.name = name;
    this.#format = options?.format ?? defaultFormat;
  }

  get #t(): string {
    return `${this.#ctx.s}.registry`;
  }

  #timeout(ms: number): LockTimeoutError {
    return new LockTimeoutError(
      ms,
      `Timed out after ${ms} ms waiting on registry ${JSON.stringify(this.name)} (a connection, the owner lock, or a concurrent reservation)`,
    );
  }

  /**
   * Drops the pending entries of owners that no longer hold their owner lock. Inside
   * the transaction, `pg_try_advisory_xact_lock(owner_key)` both tests an owner and
   * keeps it from coming back until the entries are gone.
   */
  #reclaimDead(query: TxQuery): Promise<RegistryRow[]> {
    return query<RegistryRow>(
      {
        text: `DELETE FROM ${this.#t} r WHERE r.ns = $1 AND r.registry = $2 AND r.status = 'pending'
          AND r.owner_key IN (
            SELECT o.k FROM (SELECT DISTINCT owner_key AS k FROM ${this.#t}
              WHERE ns = $1 AND registry = $2 AND status = 'pending' AND owner_key <> $3::bigint) o
            WHERE pg_try_advisory_xact_lock(o.k))
          RETURNING r.*`,
        values: [this.#ctx.namespace, this.name, this.#ctx.ownerKey],
      },
      true,
    ).then((r) => r.rows);
  }

  /**
   * Claims an id (and a slot) as a `"pending"` entry; see {@link ReserveOptions}.
   *
   * @throws {TypeError} / {RangeError} synchronously for bad options.
   * @throws {IdTakenError} an explicit `id` is held by a live owner or is active.
   * @throws {IdsExhaustedError} every slot of the range is taken.
   * @throws {LockTimeoutError} / {AbortError} the wait gave up; nothing was reserved.
   *
   * @example
   * ```ts
   * const entry = await registry.reserve({ id: "web", data: { branch: "main" } });
   * ```
   */
  reserve(options?: ReserveOptions<D>): Promise<PendingEntry<D>> {
    const o = options ?? {};
    if (typeof o !== "object" || o === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(o)}`);
    }
    if (o.id !== undefined && o.base !== undefined) {
      throw new TypeError("Give `id` or `base`, not both");
    }
    const id = o.id === undefined ? undefined : validateId(o.id, "id");
    const base = o.base === undefined ? "entry" : validateId(o.base, "base");
    const range = o.slot === undefined ? undefined : validateRange(o.slot);
    if (o.data !== undefined) checkJsonData(o.data, "data");
    validateOptions(o);
    return this.#reserve(id, base, range, o);
  }

  async #reserve(
    id: string | undefined,
    base: string,
    range: { min: number; max: number } | undefined,
    o: ReserveOptions<D>,
  ): Promise<PendingEntry<D>> {
    const started = performance.now();
    await this.#ctx.ownerLock(o.signal, o.timeoutMs);
    const timeoutMs =
      o.timeoutMs === undefined
        ? undefined
        : Math.max(0, o.timeoutMs - (performance.now() - started));
    const ns = this.#ctx.namespace;
    const data = o.data === undefined ? null : JSON.stringify(o.data);
    const won = await transaction(
      this.#ctx,
      { signal: o.signal, timeoutMs },
      (ms) => this.#timeout(ms),
      async (query) => {
        await this.#reclaimDead(query);
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          const candidate = id ?? (await this.#firstFreeId(query, base));
          const slot = range === undefined ? null : await this.#lowestFreeSlot(query, range);
          const r = await query<{ claim: string }>(
            {
              text: `INSERT INTO ${this.#t} (ns, registry, id, slot, status, claim, owner_key, owner, data, created_at)
                VALUES ($1, $2, $3, $4, 'pending', nextval('${this.#ctx.s}.fence'), $5::bigint, $6::jsonb, $7::jsonb, $8)
                ON CONFLICT DO NOTHING RETURNING claim`,
              values: [
                ns,
                this.name,
                candidate,
                slot,
                this.#ctx.ownerKey,
                JSON.stringify(this.#ctx.owner),
                data,
                Date.now(),
              ],
            },
            true,
          );
          if (r.rows.length === 1) return { id: candidate, slot, claim: r.rows[0]!.claim };
          if (id !== undefined) {
            const current = await this.#row(query, id);
            if (current !== undefined) {
              const entry = toEntry<unknown>(current);
              throw new IdTakenError(id, entry.status, describeHolder(entry), entry.owner);
            }
          }
          // A concurrent reservation took the id or the slot between our look and our
          // insert (it has committed: the insert waited for it). Look again.
        }
        throw new Error(
          `Could not reserve in registry ${JSON.stringify(this.name)} after ${MAX_ATTEMPTS} attempts: every attempt lost a race`,
        );
      },
    );
    return new RegistryPendingEntry<D>(
      {
        commit: (entryId, claim, value) => this.#commit(entryId, claim, value),
        abort: (entryId, claim) => this.#abort(entryId, claim),
      },
      won.id,
      won.slot ?? undefined,
      won.claim,
    );
  }

  async #firstFreeId(query: TxQuery, base: string): Promise<string> {
    const r = await query<{ id: string }>({
      text: `SELECT id FROM ${this.#t} WHERE ns = $1 AND registry = $2`,
      values: [this.#ctx.namespace, this.name],
    });
    const taken = new Set(r.rows.map((row) => row.id));
    for (let n = 1; n <= taken.size + 1; n++) {
      const candidate = this.#format(base, n);
      if (typeof candidate !== "string" || candidate === "") {
        throw new TypeError(
          `Expected \`format(${JSON.stringify(base)}, ${n})\` to return a non-empty string, got ${describe(candidate)}`,
        );
      }
      if (!taken.has(candidate)) return candidate;
    }
    throw new TypeError(
      `\`format\` gave only taken ids for ${JSON.stringify(base)} with n = 1…${taken.size + 1}; it must give a different id for every n`,
    );
  }

  /** The lowest free slot: `min` if free, else the first free one after a taken one. */
  async #lowestFreeSlot(query: TxQuery, range: { min: number; max: number }): Promise<number> {
    const r = await query<{ slot: number | null }>({
      text: `SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM ${this.#t} WHERE ns = $1 AND registry = $2 AND slot = $3)
          THEN $3::int
          ELSE (SELECT min(t.slot) + 1 FROM ${this.#t} t WHERE t.ns = $1 AND t.registry = $2
                  AND t.slot >= $3 AND t.slot < $4
                  AND NOT EXISTS (SELECT 1 FROM ${this.#t} u WHERE u.ns = $1 AND u.registry = $2 AND u.slot = t.slot + 1))
        END AS slot`,
      values: [this.#ctx.namespace, this.name, range.min, range.max],
    });
    const slot = r.rows[0]?.slot ?? null;
    if (slot === null) throw new IdsExhaustedError(range.min, range.max);
    return slot;
  }

  async #row(query: TxQuery, id: string): Promise<RegistryRow | undefined> {
    const r = await query<RegistryRow>({
      text: `SELECT * FROM ${this.#t} WHERE ns = $1 AND registry = $2 AND id = $3`,
      values: [this.#ctx.namespace, this.name, id],
    });
    return r.rows[0];
  }

  async #commit(
    id: string,
    claim: string,
    data: { value: D } | undefined,
  ): Promise<RegistryEntry<D>> {
    // Commit as a live owner: if our owner lock was lost and nobody reclaimed the entry
    // meanwhile, it is still ours once the lock is ours again.
    await this.#ctx.ownerLock(undefined, undefined);
    return transaction(
      this.#ctx,
      {},
      (ms) => this.#timeout(ms),
      async (query) => {
        const r = await query<RegistryRow>(
          {
            text: `UPDATE ${this.#t} SET status = 'active', data = CASE WHEN $5 THEN $6::jsonb ELSE data END
            WHERE ns = $1 AND registry = $2 AND id = $3 AND claim = $4::bigint AND status = 'pending'
            RETURNING *`,
            values: [
              this.#ctx.namespace,
              this.name,
              id,
              claim,
              data !== undefined,
              data === undefined ? null : JSON.stringify(data.value),
            ],
          },
          true,
        );
        if (r.rows.length === 1) return toEntry<D>(r.rows[0]!);
        throw await this.#lost(query, id, claim);
      },
    );
  }

  async #abort(id: string, claim: string): Promise<void> {
    await transaction(
      this.#ctx,
      {},
      (ms) => this.#timeout(ms),
      async (query) => {
        const r = await query(
          {
            text: `DELETE FROM ${this.#t} WHERE ns = $1 AND registry = $2 AND id = $3 AND claim = $4::bigint AND status = 'pending'`,
            values: [this.#ctx.namespace, this.name, id, claim],
          },
          true,
        );
        if (r.rowCount !== 1) throw await this.#lost(query, id, claim);
      },
    );
  }

  async #lost(query: TxQuery, id: string, claim: string): Promise<ReservationLostError> {
    const row = await this.#row(query, id);
    if (row === undefined) {
      return new ReservationLostError(
        id,
        "it is gone (aborted, released, or reclaimed because its owner lock was lost)",
      );
    }
    if (row.claim === claim) {
      return new ReservationLostError(id, "it was already committed", toEntry(row));
    }
    return new ReservationLostError(
      id,
      "it was reclaimed or released and the id was reserved again since",
      toEntry(row),
    );
  }

  /**
   * Every entry, pending and active, in the order they were reserved, after dropping
   * the pending entries of dead owners.
   *
   * @example
   * ```ts
   * for (const e of await registry.list()) console.log(e.id, e.status, e.owner.hostname);
   * ```
   */
  async list(): Promise<RegistryEntry<D>[]> {
    return transaction(
      this.#ctx,
      {},
      (ms) => this.#timeout(ms),
      async (query) => {
        await this.#reclaimDead(query);
        const r = await query<RegistryRow>({
          text: `SELECT * FROM ${this.#t} WHERE ns = $1 AND registry = $2 ORDER BY claim`,
          values: [this.#ctx.namespace, this.name],
        });
        return r.rows.map((row) => toEntry<D>(row));
      },
    );
  }

  /**
   * The entry with this id, or `undefined`.
   *
   * @example
   * ```ts
   * const web = await registry.get("web");
   * ```
   */
  async get(id: string): Promise<RegistryEntry<D> | undefined> {
    validateId(id, "id");
    const r = await this.#ctx.pool.query<RegistryRow>({
      text: `SELECT * FROM ${this.#t} WHERE ns = $1 AND registry = $2 AND id = $3`,
      values: [this.#ctx.namespace, this.name, id],
    });
    return r.rows[0] === undefined ? undefined : toEntry<D>(r.rows[0]);
  }

  /**
   * Removes the entry with this id, whatever its status and owner; `false` if there
   * was none. A pending handle of a released entry then fails with
   * `ReservationLostError`.
   *
   * @example
   * ```ts
   * await registry.release("web");
   * ```
   */
  async release(id: string): Promise<boolean> {
    validateId(id, "id");
    const r = await this.#ctx.pool.query({
      text: `DELETE FROM ${this.#t} WHERE ns = $1 AND registry = $2 AND id = $3`,
      values: [this.#ctx.namespace, this.name, id],
    });
    return r.rowCount === 1;
  }

  /**
   * Drops the pending entries of dead owners (crashed, killed, partitioned or paused
   * past their lease) and returns them.
   *
   * @example
   * ```ts
   * const dropped = await registry.reclaim();
   * ```
   */
  async reclaim(options?: ReclaimOptions): Promise<RegistryEntry<D>[]> {
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    return transaction(
      this.#ctx,
      {},
      (ms) => this.#timeout(ms),
      async (query) => (await this.#reclaimDead(query)).map((row) => toEntry<D>(row)),
    );
  }
}
