// StateFile against a model (a counter), over random sequences of updates, reads,
// throwing fns, failing validation and aborts: in one process from several instances,
// and from several real processes.
import type { ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { StateFile, StateFileInvalidError } from "../../src/atomic/index.js";
import { io } from "../../src/atomic/io.js";
import { AbortError } from "../../src/errors.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { spawnFixture, tempFilesIn } from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";

interface Counter {
  n: number;
}

const newTempDir = useTempDir();
let dir: string;
let fileNo = 0;

beforeEach(() => {
  dir = newTempDir();
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function onDisk(p: string): Promise<number> {
  try {
    return (JSON.parse(await readFile(p, "utf8")) as Counter).n;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
}

// --- in one process, several StateFile instances on one path ---------------------

interface Real {
  path: string;
  files: StateFile<Counter>[];
}
interface Model {
  n: number;
}
type Cmd = fc.AsyncCommand<Model, Real>;

const inst = (files: StateFile<Counter>[], i: number) => files[i % files.length]!;

class Add implements Cmd {
  constructor(
    readonly who: number,
    readonly by: number,
    readonly async: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const committed = await inst(r.files, this.who).update((s) => {
      if (!this.async) return { n: s.n + this.by };
      return Promise.resolve().then(() => ({ n: s.n + this.by }));
    });
    m.n += this.by;
    expect(committed.n).toBe(m.n);
    expect(await onDisk(r.path)).toBe(m.n);
  }
  toString = () => `add(${this.who}, ${this.by}${this.async ? ", async" : ""})`;
}

/** Several updates from several instances at once: all of them apply. */
class Burst implements Cmd {
  constructor(readonly adds: { who: number; by: number }[]) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await Promise.all(
      this.adds.map((a) => inst(r.files, a.who).update((s) => ({ n: s.n + a.by }))),
    );
    for (const a of this.adds) m.n += a.by;
    expect(await onDisk(r.path)).toBe(m.n);
  }
  toString = () => `burst(${this.adds.map((a) => `${a.who}:+${a.by}`).join(" ")})`;
}

class Read implements Cmd {
  constructor(readonly who: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    expect((await inst(r.files, this.who).read()).n).toBe(m.n);
  }
  toString = () => `read(${this.who})`;
}

class Throw implements Cmd {
  constructor(readonly who: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const boom = new Error("fn failed");
    await expect(
      inst(r.files, this.who).update((s) => {
        s.n += 1000;
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await onDisk(r.path)).toBe(m.n);
  }
  toString = () => `throw(${this.who})`;
}

class Invalid implements Cmd {
  constructor(readonly who: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    await expect(inst(r.files, this.who).update(() => ({ n: -1 }))).rejects.toBeInstanceOf(
      StateFileInvalidError,
    );
    expect(await onDisk(r.path)).toBe(m.n);
  }
  toString = () => `invalid(${this.who})`;
}

type AbortWhen = "before" | "in-fn" | "before-rename";
class Abort implements Cmd {
  constructor(
    readonly who: number,
    readonly when: AbortWhen,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const ac = new AbortController();
    if (this.when === "before") ac.abort();
    const restore: (() => void)[] = [];
    if (this.when === "before-rename") {
      // The data is being written: later than any lock wait, earlier than the rename.
      const write = io.write;
      const spy = vi.spyOn(io, "write").mockImplementation((...args) => {
        ac.abort();
        return write(...args);
      });
      restore.push(() => spy.mockRestore());
    }
    try {
      await expect(
        inst(r.files, this.who).update(
          (s) => {
            if (this.when === "in-fn") ac.abort();
            return { n: s.n + 1000 };
          },
          { signal: ac.signal },
        ),
      ).rejects.toBeInstanceOf(AbortError);
    } finally {
      for (const f of restore) f();
    }
    expect(await onDisk(r.path)).toBe(m.n);
  }
  toString = () => `abort(${this.who}, ${this.when})`;
}

const who = fc.nat({ max: 2 });
const by = fc.integer({ min: 1, max: 9 });
const commands = [
  fc.tuple(who, by, fc.boolean()).map(([w, b, a]) => new Add(w, b, a)),
  fc.array(fc.record({ who, by }), { minLength: 2, maxLength: 6 }).map((a) => new Burst(a)),
  who.map((w) => new Read(w)),
  who.map((w) => new Throw(w)),
  who.map((w) => new Invalid(w)),
  fc
    .tuple(who, fc.constantFrom<AbortWhen>("before", "in-fn", "before-rename"))
    .map(([w, when]) => new Abort(w, when)),
];

describe("StateFile model (one process, three instances)", () => {
  it("matches a counter after every step, whatever fails", async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: stress ? 60 : 25 }), async (cmds) => {
        const path = join(dir, `model-${fileNo++}.json`);
        const make = () =>
          new StateFile<Counter>(path, {
            defaults: { n: 0 },
            validate: (s) => s.n >= 0,
            fsync: false, // durability is not under test here; keeps runs fast
          });
        const setup = () => ({ model: { n: 0 }, real: { path, files: [make(), make(), make()] } });
        await fc.asyncModelRun(setup, cmds);
        expect(await tempFilesIn(dir)).toEqual([]);
      }),
      { numRuns: stress ? 200 : 25 },
    );
  });
});

// --- across real processes ------------------------------------------------------

interface Worker {
  child: ChildProcess;
  send(cmd: object): Promise<{ ok: boolean; n?: number; code?: string }>;
}

function startWorker(): Worker {
  const child = spawnFixture("atomic-state-worker", ["serve"]);
  const pending: ((line: string) => void)[] = [];
  let stderr = "";
  let exited = false;
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  createInterface({ input: child.stdout! }).on("line", (line) => pending.shift()?.(line));
  child.on("exit", () => {
    exited = true;
    for (const p of pending.splice(0)) p("");
  });
  return {
    child,
    send(cmd) {
      return new Promise((resolve, reject) => {
        if (exited) reject(new Error(`worker exited: ${stderr}`));
        pending.push((line) =>
          line === "" ? reject(new Error(`worker exited: ${stderr}`)) : resolve(JSON.parse(line)),
        );
        child.stdin!.write(`${JSON.stringify(cmd)}\n`);
      });
    },
  };
}

type Op =
  | { op: "add"; who: number; by: number }
  | { op: "burst"; adds: { who: number; by: number }[] }
  | { op: "read" | "throw" | "invalid" | "abort"; who: number };

const processOps: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("add" as const), who, by }),
  fc.record({
    op: fc.constant("burst" as const),
    adds: fc.array(fc.record({ who, by }), { minLength: 2, maxLength: 6 }),
  }),
  fc.record({
    op: fc.constantFrom("read" as const, "throw" as const, "invalid" as const, "abort" as const),
    who,
  }),
);

describe("StateFile model (three processes)", () => {
  let workers: Worker[] = [];

  beforeAll(() => {
    workers = [startWorker(), startWorker(), startWorker()];
  });

  afterAll(() => {
    for (const w of workers) w.child.stdin!.end();
  });

  it("matches a counter after every step, with concurrent bursts from all processes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(processOps, { maxLength: stress ? 40 : 12 }), async (ops) => {
        const path = join(dir, `procs-${fileNo++}.json`);
        let model = 0;
        for (const o of ops) {
          if (o.op === "burst") {
            const replies = await Promise.all(
              o.adds.map((a) => workers[a.who]!.send({ op: "add", path, by: a.by })),
            );
            for (const r of replies) expect(r.ok).toBe(true);
            for (const a of o.adds) model += a.by;
          } else {
            const r = await workers[o.who]!.send(
              o.op === "add" ? { op: "add", path, by: o.by } : { op: o.op, path },
            );
            if (o.op === "add") {
              model += o.by;
              expect(r).toEqual({ ok: true, n: model });
            } else if (o.op === "read") expect(r).toEqual({ ok: true, n: model });
            else {
              const code = { throw: "EFNFAILED", invalid: "ESTATEINVALID", abort: "ABORT_ERR" }[
                o.op
              ];
              expect({ ok: r.ok, code: r.code }).toEqual({ ok: false, code });
            }
          }
          expect(await onDisk(path)).toBe(model);
        }
      }),
      { numRuns: stress ? 60 : 6 },
    );
  }, 120_000);
});
