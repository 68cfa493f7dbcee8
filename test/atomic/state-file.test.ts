import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  AtomicWriteError,
  StateFile,
  StateFileCorruptError,
  StateFileInvalidError,
} from "../../src/atomic/index.js";
import { io } from "../../src/atomic/io.js";
import { AbortError, LockTimeoutError } from "../../src/errors.js";
import { acquireFileLock } from "../../src/file-lock/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { isRoot, runFixture, tempFilesIn } from "./helpers.js";

const newTempDir = useTempDir();
let dir: string;

beforeEach(() => {
  dir = newTempDir();
});

afterEach(() => {
  vi.restoreAllMocks();
});

interface Config {
  name: string;
  tags: string[];
  nested: { b: number; a: number };
}

const defaults = (): Config => ({ name: "app", tags: [], nested: { b: 2, a: 1 } });

describe("StateFile.read", () => {
  it("returns a deep copy of the defaults while the file is missing", async () => {
    const d = defaults();
    const state = new StateFile(join(dir, "s.json"), { defaults: d });
    const a = await state.read();
    a.tags.push("mutated");
    a.nested.a = 99;
    expect(await state.read()).toEqual(defaults());
    expect(d).toEqual(defaults());
    expect(await readdir(dir)).toEqual([]); // reading creates nothing
  });

  it("returns the last committed version", async () => {
    const state = new StateFile(join(dir, "s.json"), { defaults: defaults() });
    await state.update((s) => ({ ...s, name: "one" }));
    await state.update((s) => ({ ...s, name: "two" }));
    expect((await state.read()).name).toBe("two");
    // Another instance on the same path sees the same file.
    expect((await new StateFile(join(dir, "s.json"), { defaults: defaults() }).read()).name).toBe(
      "two",
    );
  });
});

describe("StateFile.update", () => {
  it("accepts fn that mutates and returns current, or returns a new object, sync or async", async () => {
    const state = new StateFile(join(dir, "s.json"), { defaults: { n: 0, log: [] as string[] } });
    await state.update((s) => {
      s.n += 1;
      s.log.push("mutated");
      return s;
    });
    await state.update((s) => ({ n: s.n + 1, log: [...s.log, "new"] }));
    const committed = await state.update(async (s) => {
      await new Promise((r) => setImmediate(r));
      return { ...s, n: s.n + 1 };
    });
    expect(committed).toEqual({ n: 3, log: ["mutated", "new"] });
    expect(await state.read()).toEqual({ n: 3, log: ["mutated", "new"] });
  });

  it("writes stable, pretty JSON with sorted keys and a trailing newline", async () => {
    const p = join(dir, "s.json");
    const state = new StateFile(p, { defaults: defaults() });
    await state.update((s) => ({ ...s, tags: ["z", "a"] }));
    expect(await readFile(p, "utf8")).toBe(
      '{\n  "name": "app",\n  "nested": {\n    "a": 1,\n    "b": 2\n  },\n  "tags": [\n    "z",\n    "a"\n  ]\n}\n',
    );
    // Same state, other key order: same bytes.
    await state.update(() => ({ tags: ["z", "a"], nested: { a: 1, b: 2 }, name: "app" }));
    expect(await readFile(p, "utf8")).toMatch(/^\{\n {2}"name"/);
  });

  it("serialize/parse hooks store other formats", async () => {
    const p = join(dir, "s.txt");
    const state = new StateFile<{ lines: string[] }>(p, {
      defaults: { lines: [] },
      serialize: (s) => s.lines.map((l) => `${l}\n`).join(""),
      parse: (text) => ({ lines: text.split("\n").filter(Boolean) }),
    });
    await state.update((s) => ({ lines: [...s.lines, "a"] }));
    await state.update((s) => ({ lines: [...s.lines, "b"] }));
    expect(await readFile(p, "utf8")).toBe("a\nb\n");
    expect(await state.read()).toEqual({ lines: ["a", "b"] });
  });

  it("queues updates of one path in this process FIFO, across instances, losing none", async () => {
    const p = join(dir, "s.json");
    const a = new StateFile(p, { defaults: { order: [] as number[] } });
    const b = new StateFile(p, { defaults: { order: [] as number[] } });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).update((s) => ({ order: [...s.order, i] })),
      ),
    );
    expect((await a.read()).order).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it("backup: true keeps the previous version at <path>.bak", async () => {
    const p = join(dir, "s.json");
    const state = new StateFile(p, { defaults: { v: 0 }, backup: true });
    await state.update(() => ({ v: 1 }));
    await expect(readFile(`${p}.bak`, "utf8")).rejects.toMatchObject({ code: "ENOENT" });
    await state.update(() => ({ v: 2 }));
    expect(JSON.parse(await readFile(`${p}.bak`, "utf8"))).toEqual({ v: 1 });
    await state.update(() => ({ v: 3 }));
    expect(JSON.parse(await readFile(`${p}.bak`, "utf8"))).toEqual({ v: 2 });
    expect(state.backupPath).toBe(`${p}.bak`);
  });

  it("keeps the mode of an existing state file", async () => {
    const p = join(dir, "s.json");
    await writeFile(p, '{"v":0}');
    await chmod(p, 0o640);
    await new StateFile(p, { defaults: { v: 0 } }).update(() => ({ v: 1 }));
    expect((await stat(p)).mode & 0o777).toBe(0o640);
  });
});

describe("StateFile failure modes: nothing is written", () => {
  const corruptions: [string, string, number, number, number][] = [
    ["a missing value", '{\n  "a": }\n', 9, 2, 8],
    ["a truncated file", '{"a": 1, "b": [1, 2', 19, 1, 20],
    ["an empty file", "", 0, 1, 1],
    ["trailing garbage", '{"a": 1}\nxx', 9, 2, 1],
    ["a bad literal", '{"a": tru}', 9, 1, 10],
  ];
  it.each(corruptions)(
    "invalid JSON (%s): StateFileCorruptError with path and position, file untouched",
    async (_what, text, position, line, column) => {
      const p = join(dir, "s.json");
      await writeFile(p, text);
      const state = new StateFile(p, { defaults: { a: 0 } });
      for (const attempt of [() => state.read(), () => state.update(() => ({ a: 5 }))]) {
        const err = await attempt().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StateFileCorruptError);
        expect(err).toMatchObject({ code: "ESTATECORRUPT", path: p, position, line, column });
        expect((err as Error).message).toContain(`line ${line}, column ${column}`);
      }
      expect(await readFile(p, "utf8")).toBe(text);
      expect((await readdir(dir)).sort()).toEqual(["s.json", "s.json.lock"]);
    },
  );

  it("a custom parse that throws: StateFileCorruptError carrying its position when it has one", async () => {
    const p = join(dir, "s.txt");
    await writeFile(p, "garbage");
    const state = new StateFile(p, {
      defaults: {},
      parse: () => {
        throw Object.assign(new SyntaxError("bad yaml"), { position: 3 });
      },
    });
    await expect(state.read()).rejects.toMatchObject({ code: "ESTATECORRUPT", position: 3 });
  });

  it("fn throws: its error propagates, the file is unchanged", async () => {
    const p = join(dir, "s.json");
    const state = new StateFile(p, { defaults: { v: 0 } });
    await state.update(() => ({ v: 1 }));
    const before = await readFile(p, "utf8");
    const boom = new Error("boom");
    await expect(
      state.update((s) => {
        s.v = 666; // mutating current before throwing must not leak into the file
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await readFile(p, "utf8")).toBe(before);
    expect((await state.read()).v).toBe(1);
  });

  it("validate returns false: StateFileInvalidError; validate throws: its error", async () => {
    const p = join(dir, "s.json");
    const state = new StateFile(p, {
      defaults: { v: 0 },
      validate: (s) => {
        if (s.v === 13) throw new RangeError("unlucky");
        return s.v < 10;
      },
    });
    await state.update(() => ({ v: 1 }));
    const err = await state.update(() => ({ v: 11 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateFileInvalidError);
    expect(err).toMatchObject({ code: "ESTATEINVALID", path: p });
    await expect(state.update(() => ({ v: 13 }))).rejects.toThrow(RangeError);
    expect((await state.read()).v).toBe(1);
  });

  it("an async validate is awaited", async () => {
    const state = new StateFile(join(dir, "s.json"), {
      defaults: { v: 0 },
      validate: async (s) => s.v < 10,
    });
    await expect(state.update(() => ({ v: 11 }))).rejects.toBeInstanceOf(StateFileInvalidError);
    expect(await readdir(dir)).not.toContain("s.json");
  });

  it("fn returns undefined: TypeError, nothing written", async () => {
    const state = new StateFile(join(dir, "s.json"), { defaults: { v: 0 } });
    // @ts-expect-error: forgetting to return is the mistake under test
    await expect(state.update((s) => void (s.v = 1))).rejects.toThrow(TypeError);
    expect(await readdir(dir)).not.toContain("s.json");
  });

  it("an already aborted signal: AbortError before anything is read or written", async () => {
    const state = new StateFile(join(dir, "s.json"), { defaults: { v: 0 } });
    const fn = vi.fn((s: { v: number }) => s);
    const reason = new Error("cancelled");
    const err = await state
      .update(fn, { signal: AbortSignal.abort(reason) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).cause).toBe(reason);
    expect(fn).not.toHaveBeenCalled();
    expect(await readdir(dir)).toEqual([]);
  });

  it("an abort while fn runs: AbortError, nothing written", async () => {
    const p = join(dir, "s.json");
    const state = new StateFile(p, { defaults: { v: 0 } });
    await state.update(() => ({ v: 1 }));
    const ac = new AbortController();
    await expect(
      state.update(
        (s) => {
          ac.abort();
          return { v: s.v + 1 };
        },
        { signal: ac.signal },
      ),
    ).rejects.toBeInstanceOf(AbortError);
    expect((await state.read()).v).toBe(1);
  });

  it("an abort during the write, before the rename: AbortError, file and backup unchanged", async () => {
    const p = join(dir, "s.json");
    const state = new StateFile(p, { defaults: { v: 0 } });
    await state.update(() => ({ v: 1 }));
    const ac = new AbortController();
    const fsync = io.fsync;
    vi.spyOn(io, "fsync").mockImplementation((fd) => {
      ac.abort();
      return fsync(fd);
    });
    await expect(state.update(() => ({ v: 2 }), { signal: ac.signal })).rejects.toBeInstanceOf(
      AbortError,
    );
    vi.restoreAllMocks();
    expect((await state.read()).v).toBe(1);
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it("an abort while queued behind another update: never runs fn", async () => {
    const state = new StateFile(join(dir, "s.json"), { defaults: { v: 0 } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = state.update(async (s) => {
      await gate;
      return { v: s.v + 1 };
    });
    const ac = new AbortController();
    const fn = vi.fn((s: { v: number }) => ({ v: s.v + 100 }));
    const second = state.update(fn, { signal: ac.signal });
    ac.abort();
    await expect(second).rejects.toBeInstanceOf(AbortError);
    release();
    await first;
    expect(fn).not.toHaveBeenCalled();
    expect((await state.read()).v).toBe(1);
  });

  it("timeoutMs bounds the wait for another process's lock: LockTimeoutError, fn never runs", async () => {
    const p = join(dir, "s.json");
    const state = new StateFile(p, { defaults: { v: 0 } });
    // A second handle on the lock file conflicts like another process would.
    const held = await acquireFileLock(state.lockPath);
    const fn = vi.fn((s: { v: number }) => s);
    try {
      const err = await state.update(fn, { timeoutMs: 50 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockTimeoutError);
    } finally {
      await held.release();
    }
    expect(fn).not.toHaveBeenCalled();
    await state.update((s) => ({ v: s.v + 1 }), { timeoutMs: 1_000 });
    expect((await state.read()).v).toBe(1);
  });

  it("a path that is a directory: AtomicWriteError EPATHISDIR from read and update", async () => {
    const p = join(dir, "sub");
    await mkdir(p);
    const state = new StateFile(p, { defaults: {} });
    await expect(state.read()).rejects.toMatchObject({ code: "EPATHISDIR", path: p });
    const err = await state.update((s) => s).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtomicWriteError);
    expect(err).toMatchObject({ code: "EPATHISDIR" });
  });

  it("an unwritable directory: AtomicWriteError EDIRNOTWRITABLE", async () => {
    const ro = join(dir, "ro");
    await mkdir(ro);
    await chmod(ro, 0o555);
    await chmod(dir, 0o755);
    const r = await runFixture("atomic-state-worker", ["serve", join(ro, "s.json")], {
      input: '{"op":"add","by":1}\n',
      ...(isRoot ? { uid: 65534, gid: 65534, env: { ...process.env, HOME: dir } } : {}),
    });
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: "EDIRNOTWRITABLE" });
    expect(await readdir(ro)).toEqual([]);
    await chmod(ro, 0o755);
  });
});

describe("StateFile arguments", () => {
  it("throws synchronously for bad arguments", () => {
    const p = join(dir, "s.json");
    expect(() => new StateFile(p, {} as never)).toThrow(TypeError);
    expect(() => new StateFile(p, { defaults: { f: () => 1 } })).toThrow(TypeError);
    expect(() => new StateFile(p, { defaults: {}, validate: 1 as never })).toThrow(TypeError);
    expect(() => new StateFile(p, { defaults: {}, mode: -1 })).toThrow(RangeError);
    expect(() => new StateFile("", { defaults: {} })).toThrow(TypeError);
    const state = new StateFile(p, { defaults: {} });
    expect(() => state.update(42 as never)).toThrow(TypeError);
    expect(() => state.update((s) => s, { timeoutMs: -1 })).toThrow(RangeError);
    expect(state.path).toBe(p);
    expect(state.lockPath).toBe(`${p}.lock`);
  });
});
