import { type HandleFactory, type QueuePool, WaitQueue } from "./wait-queue.js";

/**
 * A map of wait queues, one per key, created on first use and dropped the moment a
 * key has neither holder nor waiter, so idle keys cost no memory.
 */
export class KeyedPool<K, H> implements QueuePool<H> {
  readonly queues = new Map<K, WaitQueue<H>>();

  constructor(
    private readonly capacity: number,
    private readonly makeHandle: HandleFactory<H>,
  ) {}

  get(key: K): WaitQueue<H> {
    let q = this.queues.get(key);
    if (q === undefined) {
      q = new WaitQueue<H>(this.capacity, this.makeHandle, this, key);
      this.queues.set(key, q);
    }
    return q;
  }

  drop(queue: WaitQueue<H>): void {
    if (this.queues.get(queue.key as K) === queue) this.queues.delete(queue.key as K);
  }
}

// Identities for keys that have no order of their own. Weak, so ordering a key never
// keeps it alive: a WeakMap holds objects and (Node 20+) unregistered symbols. A
// registered symbol (`Symbol.for`) cannot be a weak key, and needs none: its registry key
// names it for good.
const ids = new WeakMap<object, number>();
let nextId = 0;

function identity(key: object | symbol): number {
  // The ES2022 typings predate symbols as weak keys; the runtime (V8 10.8+) has them.
  const k = key as object;
  let id = ids.get(k);
  if (id === undefined) ids.set(k, (id = nextId++));
  return id;
}

// `undefined` ranks last because Array.prototype.sort puts it last without asking.
const typeRank: Record<string, number> = {
  undefined: 7,
  boolean: 1,
  number: 2,
  bigint: 3,
  string: 4,
  symbol: 5,
  object: 6,
  function: 6,
};

/**
 * A total order over any keys, the same in every caller, so taking several keys in
 * this order can never deadlock against another caller doing the same.
 */
export function compareKeys(a: unknown, b: unknown): number {
  const ta = a === null ? 0 : typeRank[typeof a]!;
  const tb = b === null ? 0 : typeRank[typeof b]!;
  if (ta !== tb) return ta - tb;
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
    if (Number.isNaN(b)) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (ta === 5) {
    // Registered symbols first, by their registry key; then the others by identity.
    const ka = Symbol.keyFor(a as symbol);
    const kb = Symbol.keyFor(b as symbol);
    if (ka !== undefined || kb !== undefined) {
      if (ka === undefined) return 1;
      if (kb === undefined) return -1;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    }
    // By description, so that the usual distinct descriptions need no identity entry
    // (a WeakMap entry per symbol, across hundreds of thousands of keys, costs memory
    // until a full GC); identity only breaks ties between equal descriptions.
    const da = (a as symbol).description ?? "";
    const db = (b as symbol).description ?? "";
    if (da !== db) return da < db ? -1 : 1;
    return a === b ? 0 : identity(a as symbol) - identity(b as symbol);
  }
  if (ta === 6) return identity(a as object) - identity(b as object);
  return (a as any) < (b as any) ? -1 : (a as any) > (b as any) ? 1 : 0;
}

/** The distinct keys (SameValueZero, like `Map`) in canonical order. */
export function canonicalKeys<K>(keys: Iterable<K>): K[] {
  return [...new Set(keys)].sort(compareKeys);
}
