// FileRegistry against a small model, over random sequences of reserve (by base or
// exact id, with or without a slot) / commit / abort / operator release / reclaim /
// list, and crashes: an owner that dies with a pending or an active entry (its PID gone,
// or reused by another process), and entries of another host. After every step: ids and
// slots are unique in the file, slots are the lowest free, dead owners' pending entries
// are reclaimed and nothing else is, and a stale handle never changes anything.
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FileRegistry,
  IdsExhaustedError,
  IdTakenError,
  type PendingEntry,
  type RegistryEntry,
  ReservationLostError,
} from "../../src/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import {
  deadOwner,
  entry,
  foreignOwner,
  inject,
  liveOwner,
  rawEntries,
  reusedPidOwner,
  setOwner,
} from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const newTempDir = useTempDir();

type OwnerKind = "me" | "dead" | "foreign";
interface MEntry {
  id: string;
  slot: number | undefined;
  status: "pending" | "active";
  owner: OwnerKind;
  claim: number;
  data: unknown;
}
interface MHandle {
  id: string;
  slot: number | undefined;
  claim: number;
  committed: boolean;
  /** How the first abort() ended, once called: a second call returns the same promise. */
  aborted: "ok" | "lost" | undefined;
}
class Model {
  entries: MEntry[] = [];
  handles: MHandle[] = [];
  claims = 0;
  foreign = 0;

  /** What reserve and list do first: drop pending entries of dead owners. */
  reclaim(force: boolean): string[] {
    const dropped = this.entries.filter(
      (e) => e.status === "pending" && (e.owner === "dead" || (force && e.owner === "foreign")),
    );
    this.entries = this.entries.filter((e) => !dropped.includes(e));
    return dropped.map((e) => e.id);
  }

  firstFree(base: string): string {
    for (let n = 1; ; n++) {
      const id = n === 1 ? base : `${base}-${n}`;
      if (!this.entries.some((e) => e.id === id)) return id;
    }
  }

  lowestSlot(): number | undefined {
    for (let s = MIN; s <= MAX; s++) if (!this.entries.some((e) => e.slot === s)) return s;
    return undefined;
  }
}
interface Real {
  path: string;
  registry: FileRegistry;
  handles: PendingEntry[];
}
type Cmd = fc.AsyncCommand<Model, Real>;

const MIN = 0;
const MAX = 3;
const IDS = ["a", "b", "a-2"];

const ownerKind = (e: RegistryEntry): OwnerKind =>
  e.owner.hostname === foreignOwner().hostname
    ? "foreign"
    : e.owner.pid === process.pid && e.owner.processStartTime === liveOwner().processStartTime
      ? "me"
      : "dead";

/** The file, as a list would show it, equals the model; ids and slots are unique. */
async function check(m: Model, r: Real): Promise<void> {
  const raw = await rawEntries(r.path);
  expect(new Set(raw.map((e) => e.id)).size).toBe(raw.length);
  const slots = raw.filter((e) => e.slot !== undefined).map((e) => e.slot);
  expect(new Set(slots).size).toBe(slots.length);
  for (const e of raw) {
    const me = m.entries.find((x) => x.id === e.id);
    expect(me, `entry ${e.id} in the file but not in the model`).toBeDefined();
  }
}

const view = (es: RegistryEntry[]) =>
  es.map((e) => ({ id: e.id, slot: e.slot, status: e.status, owner: ownerKind(e), data: e.data }));
const modelView = (m: Model) =>
  m.entries.map((e) => ({
    id: e.id,
    slot: e.slot,
    status: e.status,
    owner: e.owner,
    data: e.data,
  }));

const reserve = (
  exact: boolean,
  which: number,
  withSlot: boolean,
  data: number | null,
  exactId?: string,
): Cmd => ({
  check: () => true,
  async run(m, r) {
    m.reclaim(false);
    const slot = withSlot ? { min: MIN, max: MAX } : undefined;
    const options = exact
      ? { id: exactId ?? IDS[which % IDS.length]!, slot, data }
      : { base: which % 2 === 0 ? "a" : "b", slot, data };
    const id = exact ? options.id! : m.firstFree(options.base!);
    const holder = m.entries.find((e) => e.id === id);
    const s = withSlot ? m.lowestSlot() : undefined;
    const result = await r.registry.reserve(options).catch((e: unknown) => e);
    if (exact && holder !== undefined) {
      expect(result).toBeInstanceOf(IdTakenError);
      expect((result as IdTakenError).status).toBe(holder.status);
    } else if (withSlot && s === undefined) {
      expect(result).toBeInstanceOf(IdsExhaustedError);
    } else {
      const e = result as PendingEntry;
      expect([e.id, e.slot]).toEqual([id, s]);
      const claim = ++m.claims;
      m.entries.push({ id, slot: s, status: "pending", owner: "me", claim, data });
      m.handles.push({ id, slot: s, claim, committed: false, aborted: undefined });
      r.handles.push(e);
    }
    await check(m, r);
  },
  toString: () =>
    `reserve(${exact ? `id ${exactId ?? IDS[which % IDS.length]}` : `base ${which % 2 === 0 ? "a" : "b"}`}${withSlot ? ", slot" : ""})`,
});

const commit = (i: number, data: number | undefined): Cmd => ({
  check: (m) => m.handles.length > 0,
  async run(m, r) {
    const k = i % m.handles.length;
    const h = m.handles[k]!;
    const result = await r.handles[k]!.commit(data).catch((e: unknown) => e);
    const e = m.entries.find((x) => x.id === h.id);
    if (h.committed) {
      expect((result as RegistryEntry).status).toBe("active"); // the first commit's promise
    } else if (h.aborted === undefined && e?.claim === h.claim) {
      e.status = "active";
      if (data !== undefined) e.data = data;
      h.committed = true;
      expect(result).toMatchObject({ id: h.id, status: "active", data: e.data });
    } else {
      // Aborted, released, or reclaimed: never resurrected, nobody else's entry touched.
      expect(result).toBeInstanceOf(ReservationLostError);
    }
    await check(m, r);
  },
  toString: () => `commit(#${i}${data === undefined ? "" : `, ${data}`})`,
});

const abort = (i: number, dispose: boolean): Cmd => ({
  check: (m) => m.handles.length > 0,
  async run(m, r) {
    const k = i % m.handles.length;
    const h = m.handles[k]!;
    const real = r.handles[k]!;
    const result = await (dispose ? real[Symbol.asyncDispose]() : real.abort()).then(
      () => "ok" as const,
      (e: unknown) => {
        expect(e).toBeInstanceOf(ReservationLostError);
        return "lost" as const;
      },
    );
    let expected: "ok" | "lost";
    if (h.committed) expected = "ok";
    else if (h.aborted !== undefined) expected = h.aborted;
    else {
      const e = m.entries.find((x) => x.id === h.id);
      // Only its own claim: a stale abort never removes whoever holds the id now.
      if (e?.claim === h.claim) {
        m.entries = m.entries.filter((x) => x !== e);
        expected = "ok";
      } else expected = "lost";
      h.aborted = expected;
    }
    expect(result).toBe(dispose ? "ok" : expected); // disposal of a lost entry does not throw
    await check(m, r);
  },
  toString: () => `${dispose ? "dispose" : "abort"}(#${i})`,
});

/** The operator's release: mostly of an existing entry, sometimes of a missing id. */
const release = (which: number): Cmd => {
  let id = "";
  return {
    check: () => true,
    async run(m, r) {
      id = which < 8 && m.entries.length > 0 ? m.entries[which % m.entries.length]!.id : "zz";
      const had = m.entries.some((e) => e.id === id);
      m.entries = m.entries.filter((e) => e.id !== id);
      expect(await r.registry.release(id)).toBe(had);
      await check(m, r);
    },
    toString: () => `release(${id || `#${which}`})`,
  };
};

/**
 * The operator releases handle #i's entry, a new reservation takes the same id, and
 * then the old handle commits or aborts: it must get ReservationLostError and leave the
 * new owner's entry alone.
 */
const reuse = (i: number, thenCommit: boolean): Cmd => ({
  check: (m) => m.handles.length > 0,
  async run(m, r) {
    const k = i % m.handles.length;
    const h = m.handles[k]!;
    m.entries = m.entries.filter((e) => e.id !== h.id);
    await r.registry.release(h.id);
    await reserve(
      true,
      IDS.indexOf(h.id) === -1 ? 0 : IDS.indexOf(h.id),
      h.slot !== undefined,
      1,
    ).run(m, r);
    await (thenCommit ? commit(k, 5) : abort(k, false)).run(m, r);
  },
  toString: () => `reuse(#${i}, then ${thenCommit ? "commit" : "abort"})`,
});

/** The owner of handle #i dies (SIGKILL, or its PID is reused): the handle is gone with it. */
const crash = (i: number, reused: boolean): Cmd => ({
  check: (m) => m.handles.length > 0,
  async run(m, r) {
    const k = i % m.handles.length;
    const h = m.handles[k]!;
    const e = m.entries.find((x) => x.id === h.id && x.claim === h.claim);
    if (e !== undefined) {
      await setOwner(r.path, e.id, reused ? reusedPidOwner() : deadOwner());
      e.owner = "dead";
    }
    m.handles.splice(k, 1);
    r.handles.splice(k, 1);
    await check(m, r);
  },
  toString: () => `crash(#${i}${reused ? ", pid reused" : ""})`,
});

const foreign = (active: boolean): Cmd => ({
  check: (m) => m.foreign < 2,
  async run(m, r) {
    const id = `f${++m.foreign}`;
    const slot = m.lowestSlot();
    const status = active ? "active" : "pending";
    await inject(
      r.path,
      entry(id, foreignOwner(), { status, ...(slot === undefined ? {} : { slot }) }),
    );
    m.entries.push({ id, slot, status, owner: "foreign", claim: 0, data: null });
    await check(m, r);
  },
  toString: () => `foreign(${active ? "active" : "pending"})`,
});

const list: Cmd = {
  check: () => true,
  async run(m, r) {
    m.reclaim(false);
    expect(view(await r.registry.list())).toEqual(modelView(m));
    await check(m, r);
  },
  toString: () => "list()",
};

const reclaim = (force: boolean): Cmd => ({
  check: () => true,
  async run(m, r) {
    const dropped = m.reclaim(force);
    expect((await r.registry.reclaim({ force })).map((e) => e.id)).toEqual(dropped);
    await check(m, r);
  },
  toString: () => `reclaim(${force ? "force" : ""})`,
});

const reserves = fc
  .tuple(fc.boolean(), fc.nat(5), fc.boolean(), fc.option(fc.nat(9)))
  .map(([exact, which, withSlot, data]) => reserve(exact, which, withSlot, data));
const commits = fc
  .tuple(fc.nat(20), fc.option(fc.nat(9), { nil: undefined }))
  .map(([i, d]) => commit(i, d));
const aborts = fc.tuple(fc.nat(20), fc.boolean()).map(([i, d]) => abort(i, d));
// Reserves (and what handles do) come up more often than the operator's tools.
const commands = fc.commands(
  [
    reserves,
    reserves,
    reserves,
    commits,
    commits,
    aborts,
    fc.nat(9).map(release),
    fc.nat(9).map(release),
    fc.tuple(fc.nat(20), fc.boolean()).map(([i, reused]) => crash(i, reused)),
    fc.tuple(fc.nat(20), fc.boolean()).map(([i, c]) => reuse(i, c)),
    fc.boolean().map(foreign),
    fc.constant(list),
    fc.boolean().map(reclaim),
  ],
  { maxCommands: stress ? 60 : 25, size: "max" },
);

describe("FileRegistry against a model", () => {
  it(
    "ids and slots unique and lowest free; only dead owners' pending entries reclaimed; stale handles harmless",
    async () => {
      await fc.assert(
        fc.asyncProperty(commands, async (cmds) => {
          const path = join(newTempDir(), "registry.json");
          const real: Real = {
            path,
            registry: new FileRegistry(path, { fsync: false }),
            handles: [],
          };
          await fc.asyncModelRun(() => ({ model: new Model(), real }), cmds);
        }),
        { numRuns: stress ? 300 : 40 },
      );
    },
    stress ? 600_000 : 60_000,
  );
});
