import { ReservationLostError } from "./errors.js";
import { checkJsonData } from "./json-data.js";
import type { PendingEntry, RegistryEntry } from "./types.js";

/**
 * What a pending entry asks of its registry: a commit and an abort, each a
 * compare-and-set on the entry's claim token (two short lock sections for a
 * FileRegistry, two statements for the PostgreSQL registry). @internal
 */
export interface EntryOps<D> {
  commit(id: string, token: string, data: { value: D } | undefined): Promise<RegistryEntry<D>>;
  abort(id: string, token: string): Promise<void>;
}

/**
 * The handle a registry's `reserve` returns (FileRegistry and the PostgreSQL registry
 * alike). It holds no lock, no descriptor and no connection, only the claim token;
 * commit and abort each go to the registry briefly.
 * @internal
 */
export class RegistryPendingEntry<D> implements PendingEntry<D> {
  readonly id: string;
  readonly slot: number | undefined;
  readonly #ops: EntryOps<D>;
  readonly #token: string;
  #committing: Promise<RegistryEntry<D>> | undefined;
  #aborting: Promise<void> | undefined;

  constructor(ops: EntryOps<D>, id: string, slot: number | undefined, token: string) {
    this.#ops = ops;
    this.id = id;
    this.slot = slot;
    this.#token = token;
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
      this.#token,
      data === undefined ? undefined : { value: data },
    );
    this.#committing = p;
    // A commit that failed for another reason (a lock timeout, a full disk, a lost
    // connection) left the entry pending: it may be tried again, or aborted.
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
    await this.#ops.abort(this.id, this.#token);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.abort();
    } catch (err) {
      // Already gone is what disposal wants; anything else (the lock timed out, the
      // disk failed) leaves the entry pending, and the caller must hear about it.
      if (!(err instanceof ReservationLostError)) throw err;
    }
  }
}
