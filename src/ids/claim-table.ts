// The one core under IdAllocator and SlotAllocator: who holds which key, and with which
// claim. Every reservation gets a fresh token; freeing and committing go through the
// token, so a stale handle (released twice, released after commit, kept across an
// unregister) can never touch a claim that someone else made since.

/** A key's holder: a reservation (`token`, not committed) or a registration. */
interface Claim {
  token: number;
  committed: boolean;
}

/** @internal */
export class ClaimTable<K> {
  readonly #claims = new Map<K, Claim>();
  readonly #onFree: ((key: K) => void) | undefined;
  #nextToken = 1;

  constructor(onFree?: (key: K) => void) {
    this.#onFree = onFree;
  }

  get size(): number {
    return this.#claims.size;
  }

  has(key: K): boolean {
    return this.#claims.has(key);
  }

  status(key: K): "reserved" | "registered" | undefined {
    const c = this.#claims.get(key);
    return c === undefined ? undefined : c.committed ? "registered" : "reserved";
  }

  /** Claims a free key for a reservation; the caller checked `has(key)` in the same turn. */
  reserve(key: K): number {
    const token = this.#nextToken++;
    this.#claims.set(key, { token, committed: false });
    return token;
  }

  /** Claims a free key as registered (committed at once). */
  register(key: K): void {
    this.#claims.set(key, { token: this.#nextToken++, committed: true });
  }

  /** Turns the reservation `token` into a registration. `false` if that claim is gone. */
  commit(key: K, token: number): boolean {
    const c = this.#claims.get(key);
    if (c === undefined || c.token !== token) return false;
    c.committed = true;
    return true;
  }

  /** Frees `key` if it is still held by the uncommitted reservation `token`. */
  release(key: K, token: number): boolean {
    const c = this.#claims.get(key);
    if (c === undefined || c.token !== token || c.committed) return false;
    this.#free(key);
    return true;
  }

  /** Frees a registered key; reservations are freed only by their own handle. */
  unregister(key: K): boolean {
    const c = this.#claims.get(key);
    if (c === undefined || !c.committed) return false;
    this.#free(key);
    return true;
  }

  #free(key: K): void {
    this.#claims.delete(key);
    this.#onFree?.(key);
  }
}
