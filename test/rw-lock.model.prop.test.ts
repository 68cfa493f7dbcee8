// Model-based test: random sequences of readLock / writeLock / try* / release / abort /
// downgrade against a ten-line reference model of a FIFO-fair phase lock. After every
// command the set of holders, the queue and the counters must match the model exactly.
import fc from "fast-check";
import { expect, it } from "vitest";
import { type Releaser, RWLock, type WriteReleaser } from "../src/index.js";
import { drain, type Tracked, track } from "./helpers/settle.js";

type Kind = "r" | "w";

/** The reference: one FIFO queue; grant the head while it is compatible with the holders. */
class Model {
  queue: { id: number; kind: Kind }[] = [];
  holders = new Map<number, Kind>();
  nextId = 0;

  compatible(kind: Kind): boolean {
    const kinds = [...this.holders.values()];
    return kind === "r" ? !kinds.includes("w") : kinds.length === 0;
  }

  pump(): void {
    while (this.queue.length > 0 && this.compatible(this.queue[0]!.kind)) {
      const head = this.queue.shift()!;
      this.holders.set(head.id, head.kind);
    }
  }
}

class Real {
  lock = new RWLock();
  waits = new Map<number, { tracked: Tracked<Releaser>; ac: AbortController }>();
  handles = new Map<number, Releaser>();

  async sync(m: Model): Promise<void> {
    await drain();
    for (const [id, w] of this.waits) {
      if (w.tracked.state === "fulfilled") {
        this.handles.set(id, w.tracked.value!);
        this.waits.delete(id);
      } else if (w.tracked.state === "rejected") {
        this.waits.delete(id);
      }
    }
    expect([...this.handles.keys()].sort()).toEqual([...m.holders.keys()].sort());
    expect([...this.waits.keys()].sort()).toEqual(m.queue.map((q) => q.id).sort());
    const modelReaders = [...m.holders.values()].filter((k) => k === "r").length;
    expect(this.lock.readers).toBe(modelReaders);
    expect(this.lock.isWriteLocked).toBe([...m.holders.values()].includes("w"));
    expect(this.lock.waiting).toBe(m.queue.length);
  }
}

type Cmd = fc.AsyncCommand<Model, Real>;

const request = (kind: Kind): Cmd => ({
  check: () => true,
  async run(m, r) {
    const id = m.nextId++;
    m.queue.push({ id, kind });
    m.pump();
    const ac = new AbortController();
    const p =
      kind === "r"
        ? r.lock.readLock({ signal: ac.signal })
        : r.lock.writeLock({ signal: ac.signal });
    r.waits.set(id, { tracked: track(p as Promise<Releaser>), ac });
    await r.sync(m);
  },
  toString: () => `${kind === "r" ? "readLock" : "writeLock"}()`,
});

const attempt = (kind: Kind): Cmd => ({
  check: () => true,
  async run(m, r) {
    const id = m.nextId++;
    const expected = m.queue.length === 0 && m.compatible(kind);
    const h = kind === "r" ? r.lock.tryReadLock() : r.lock.tryWriteLock();
    expect(h !== undefined).toBe(expected);
    if (h !== undefined) {
      m.holders.set(id, kind);
      r.handles.set(id, h);
    }
    await r.sync(m);
  },
  toString: () => (kind === "r" ? "tryReadLock()" : "tryWriteLock()"),
});

const release = (pick: number): Cmd => ({
  check: (m) => m.holders.size > 0,
  async run(m, r) {
    const id = [...m.holders.keys()].sort((a, b) => a - b)[pick % m.holders.size]!;
    m.holders.delete(id);
    m.pump();
    const h = r.handles.get(id)!;
    r.handles.delete(id);
    h.release();
    h.release(); // idempotent: must not free anyone else
    await r.sync(m);
  },
  toString: () => `release(#${pick})`,
});

const abort = (pick: number): Cmd => ({
  check: (m) => m.queue.length > 0,
  async run(m, r) {
    const { id } = m.queue.splice(pick % m.queue.length, 1)[0]!;
    m.pump();
    r.waits.get(id)!.ac.abort();
    await r.sync(m);
  },
  toString: () => `abort(#${pick})`,
});

const downgrade: Cmd = {
  check: (m) => [...m.holders.values()].includes("w"),
  async run(m, r) {
    const id = [...m.holders].find(([, k]) => k === "w")![0];
    m.holders.set(id, "r");
    m.pump();
    r.handles.set(id, (r.handles.get(id) as WriteReleaser).downgrade());
    await r.sync(m);
  },
  toString: () => "downgrade()",
};

it("RWLock matches the FIFO-fair phase model", async () => {
  const commands = fc.commands(
    [
      fc.constant(request("r")),
      fc.constant(request("w")),
      fc.constant(attempt("r")),
      fc.constant(attempt("w")),
      fc.nat(20).map(release),
      fc.nat(20).map(release),
      fc.nat(20).map(abort),
      fc.constant(downgrade),
    ],
    { maxCommands: 40 },
  );
  await fc.assert(
    fc.asyncProperty(commands, async (cmds) => {
      await fc.asyncModelRun(() => ({ model: new Model(), real: new Real() }), cmds);
    }),
    { numRuns: 200 },
  );
});
