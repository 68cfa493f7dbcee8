// A pending registry entry in PostgreSQL, and the mapping of rows to public entries.
// Same contract as the FileRegistry's pending entry: commit and abort are
// compare-and-set statements on the entry's claim token, so a handle whose entry was
// reclaimed, released or re-reserved since can never touch what is there now.
import { checkJsonData } from "../ids/json-data.js";
import {
  type PendingEntry,
  type RegistryEntry,
  type RegistryOwner,
  ReservationLostError,
} from "./registry-types.js";

/** A registry row as `pg` returns it. @internal */
export interface RegistryRow {
  id: string;
  slot: number | null;
  status: "pending" | "active";
  claim: string;
  owner: RegistryOwner;
  data: unknown;
  created_at: string;
}

/** @internal */
export function toEntry<D>(row: RegistryRow): RegistryEntry<D> {
  const entry: RegistryEntry<D> = {
    id: row.id,
    status: row.status,
    owner: { ...row.owner },
    data: (row.data ?? null) as D | null,
    createdAt: Number(row.created_at),
  };
  if (row.slot !== null) entry.slot = row.slot;
  return entry;
}

/** What a pending entry asks of its registry. @internal */
export interface PendingOps<D> {
  commit(id: string, claim: string, data: { value: D } | undefined): Promise<RegistryEntry<D>>;
  abort(id: string, claim: string): Promise<void>;
}

/** @internal */
export class PgPendingEntry<D> implements PendingEntry<D> {
  readonly id: string;
  readonly slot: number | undefined;
  readonly #ops: PendingOps<D>;
  readonly #claim: string;
  #committing: Promise<RegistryEntry<D>> | undefined;
  #aborting: Promise<void> | undefined;

  constructor(ops: PendingOps<D>, id: string, slot: number | undefined, claim: string) {
    this.#ops = ops;
    this.id = id;
    this.slot = slot;
    this.#claim = claim;
  }

  commit(data?: D): Promise<RegistryEntry<D>> {
    if (data !== undefined) checkJsonData(data, "data");
    if (this.#committing !== undefined) return this.#committing;
    if (this.#aborting !== undefined) {
      return Promise.reject(
        new ReservationLostError(this.id, "abort() was called on it before commit()"),
      );
    }
    const p = this.#ops.commit(
      this.id,
      this.#claim,
      data === undefined ? undefined : { value: data },
    );
    this.#committing = p;
    // A commit that failed for another reason (a timeout, a lost connection) left the
    // entry pending: it may be tried again, or aborted.
    p.catch((err) => {
      if (!(err instanceof ReservationLostError) && this.#committing === p) {
        this.#committing = undefined;
      }
    });
    return p;
  }

  abort(): Promise<void> {
    if (this.#aborting !== undefined) return this.#aborting;
    const p = this.#abort();
    this.#aborting = p;
    p.catch((err) => {
      if (!(err instanceof ReservationLostError) && this.#aborting === p) {
        this.#aborting = undefined;
      }
    });
    return p;
  }

  async #abort(): Promise<void> {
    if (this.#committing !== undefined) {
      try {
        await this.#committing;
        return; // committed: nothing to abort
      } catch {
        // Not committed: abort it (or learn that it is gone).
      }
    }
    await this.#ops.abort(this.id, this.#claim);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.abort();
    } catch (err) {
      if (!(err instanceof ReservationLostError)) throw err;
    }
  }
}
