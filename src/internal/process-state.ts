/**
 * State that must exist once per process, however many copies of interlock are loaded.
 *
 * An application that imports interlock and also loads a dependency that `require`s it
 * gets both builds (ESM and CJS) in one process: two module instances. Module-level
 * state would then be duplicated, and two in-process queues for one lock file would race
 * each other on the kernel instead of queueing FIFO. So that state lives on `globalThis`
 * under one registered symbol, created by whichever copy asks first.
 *
 * The symbol carries a schema version: a copy whose shapes differ must use another
 * version, so two incompatible releases never share objects.
 */
const KEY = Symbol.for("interlock.process-state.v1");

type Store = Record<string, unknown>;

function store(): Store {
  const g = globalThis as { [KEY]?: Store };
  let s = g[KEY];
  if (s === undefined) {
    s = Object.create(null) as Store;
    // Not enumerable, not writable: nobody replaces it by accident.
    Object.defineProperty(g, KEY, { value: s });
  }
  return s;
}

/** The process-wide value called `name`, made by `make` on first use. */
export function processWide<T>(name: string, make: () => T): T {
  const s = store();
  if (!(name in s)) s[name] = make();
  return s[name] as T;
}
