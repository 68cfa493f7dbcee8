// IdAllocator and SlotAllocator against a small model, over random sequences of
// reserve / commit / release (including stale and repeated releases) / register /
// unregister: ids and slots are never shared, ids are the lowest free `n` of their base,
// slots the lowest free integer, and a stale handle never frees anything.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  IdAllocator,
  IdsExhaustedError,
  IdTakenError,
  type Reservation,
  ReservationLostError,
  SlotAllocator,
} from "../../src/index.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const runs = stress ? 2_000 : 200;

/** Who holds each key: a claim number, and whether it is committed (registered). */
class Model<K> {
  claims = new Map<K, { claim: number; committed: boolean }>();
  handles: { key: K; claim: number }[] = [];
  next = 1;

  take(key: K, committed: boolean): number {
    const claim = this.next++;
    this.claims.set(key, { claim, committed });
    return claim;
  }
}

interface Real<K> {
  reserve(arg: number): Reservation<K>;
  register(key: K): void;
  unregister(key: K): boolean;
  has(key: K): boolean;
  handles: Reservation<K>[];
}

interface Subject<K> {
  make(): Real<K>;
  /** What the model expects reserve(arg) to give, or "exhausted". */
  expected(m: Model<K>, arg: number): K | "exhausted";
  universe: K[];
}

function commands<K>(s: Subject<K>) {
  type Cmd = fc.Command<Model<K>, Real<K>>;
  const check = (m: Model<K>, r: Real<K>) => {
    for (const key of s.universe) expect(r.has(key)).toBe(m.claims.has(key));
    // Live handles name distinct keys: no id or slot is ever shared.
    const live = m.handles.filter((h) => m.claims.get(h.key)?.claim === h.claim);
    expect(new Set(live.map((h) => h.key)).size).toBe(live.length);
  };
  const reserve = (arg: number): Cmd => ({
    check: () => true,
    run(m, r) {
      const want = s.expected(m, arg);
      if (want === "exhausted") {
        expect(() => r.reserve(arg)).toThrow(IdsExhaustedError);
      } else {
        const h = r.reserve(arg);
        expect(h.id).toEqual(want);
        m.handles.push({ key: want, claim: m.take(want, false) });
        r.handles.push(h);
      }
      check(m, r);
    },
    toString: () => `reserve(${arg})`,
  });
  const commit = (i: number): Cmd => ({
    check: (m) => m.handles.length > 0,
    run(m, r) {
      const k = i % m.handles.length;
      const h = m.handles[k]!;
      const c = m.claims.get(h.key);
      if (c?.claim === h.claim) {
        r.handles[k]!.commit();
        c.committed = true;
      } else {
        expect(() => r.handles[k]!.commit()).toThrow(ReservationLostError);
      }
      check(m, r);
    },
    toString: () => `commit(#${i})`,
  });
  const release = (i: number, dispose: boolean): Cmd => ({
    check: (m) => m.handles.length > 0,
    run(m, r) {
      const k = i % m.handles.length;
      const h = m.handles[k]!;
      const c = m.claims.get(h.key);
      // Only its own, uncommitted claim: a stale handle (released before, committed,
      // or its key since taken by another claim) frees nothing.
      if (c?.claim === h.claim && !c.committed) m.claims.delete(h.key);
      if (dispose) r.handles[k]![Symbol.dispose]();
      else r.handles[k]!.release();
      check(m, r);
    },
    toString: () => `${dispose ? "dispose" : "release"}(#${i})`,
  });
  const register = (i: number): Cmd => ({
    check: () => true,
    run(m, r) {
      const key = s.universe[i % s.universe.length]!;
      if (m.claims.has(key)) expect(() => r.register(key)).toThrow(IdTakenError);
      else {
        r.register(key);
        m.take(key, true);
      }
      check(m, r);
    },
    toString: () => `register(${String(s.universe[i % s.universe.length])})`,
  });
  const unregister = (i: number): Cmd => ({
    check: () => true,
    run(m, r) {
      const key = s.universe[i % s.universe.length]!;
      const c = m.claims.get(key);
      const expected = c?.committed === true;
      if (expected) m.claims.delete(key);
      expect(r.unregister(key)).toBe(expected);
      check(m, r);
    },
    toString: () => `unregister(${String(s.universe[i % s.universe.length])})`,
  });
  return fc.commands(
    [
      fc.nat(2).map(reserve),
      fc.nat(20).map(commit),
      fc.tuple(fc.nat(20), fc.boolean()).map(([i, d]) => release(i, d)),
      fc.nat(20).map(register),
      fc.nat(20).map(unregister),
    ],
    { maxCommands: stress ? 200 : 60 },
  );
}

const BASES = ["a", "b", "c"];
const idSubject: Subject<string> = {
  make() {
    const ids = new IdAllocator();
    return {
      reserve: (arg) => ids.reserve(BASES[arg]!),
      register: (k) => ids.register(k),
      unregister: (k) => ids.unregister(k),
      has: (k) => ids.has(k),
      handles: [],
    };
  },
  expected(m, arg) {
    const base = BASES[arg]!;
    for (let n = 1; ; n++) {
      const id = n === 1 ? base : `${base}-${n}`;
      if (!m.claims.has(id)) return id;
    }
  },
  universe: BASES.flatMap((b) => [b, `${b}-2`, `${b}-3`, `${b}-4`]),
};

const MIN = 2;
const MAX = 6;
const slotSubject: Subject<number> = {
  make() {
    const slots = new SlotAllocator({ min: MIN, max: MAX });
    return {
      reserve: () => slots.reserve(),
      register: (k) => slots.register(k),
      unregister: (k) => slots.unregister(k),
      has: (k) => slots.has(k),
      handles: [],
    };
  },
  expected(m) {
    for (let s = MIN; s <= MAX; s++) if (!m.claims.has(s)) return s;
    return "exhausted";
  },
  universe: [2, 3, 4, 5, 6],
};

describe("in-process allocators against a model", () => {
  it("IdAllocator: unique ids, lowest free n, stale releases harmless", () => {
    fc.assert(
      fc.property(commands(idSubject), (cmds) => {
        fc.modelRun(() => ({ model: new Model<string>(), real: idSubject.make() }), cmds);
      }),
      { numRuns: runs },
    );
  });

  it("SlotAllocator: unique slots, lowest free slot, exhaustion, stale releases harmless", () => {
    fc.assert(
      fc.property(commands(slotSubject), (cmds) => {
        fc.modelRun(() => ({ model: new Model<number>(), real: slotSubject.make() }), cmds);
      }),
      { numRuns: runs },
    );
  });
});
