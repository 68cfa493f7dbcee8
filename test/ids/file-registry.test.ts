import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import {
  acquireFileLock,
  FileRegistry,
  IdsExhaustedError,
  IdTakenError,
  LockTimeoutError,
  processStartTime,
  RegistryFormatError,
  ReservationLostError,
  StateFileCorruptError,
} from "../../src/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { rawEntries } from "./helpers.js";

const newTempDir = useTempDir();
let path: string;

beforeEach(() => {
  path = join(newTempDir(), "sessions.json");
});

const me = () => ({
  pid: process.pid,
  processStartTime: processStartTime(process.pid),
  hostname: hostname(),
});

describe("FileRegistry: reserve → commit / abort", () => {
  it("reserve writes a visible pending entry; commit makes it active with its data", async () => {
    const registry = new FileRegistry<{ port: number }>(path);
    const before = Date.now();
    const entry = await registry.reserve({ base: "session", slot: { min: 0, max: 3 } });
    expect([entry.id, entry.slot]).toEqual(["session", 0]);
    const [listed] = await registry.list();
    expect(listed).toEqual({
      id: "session",
      slot: 0,
      status: "pending",
      owner: me(),
      data: null,
      createdAt: listed!.createdAt,
    });
    expect(listed!.createdAt).toBeGreaterThanOrEqual(before);
    const committed = await entry.commit({ port: 7000 });
    expect(committed).toEqual({ ...listed, status: "active", data: { port: 7000 } });
    expect(await registry.list()).toEqual([committed]);
    expect(await registry.get("session")).toEqual(committed);
    expect(await registry.get("nope")).toBeUndefined();
  });

  it("ids from a base and slots are the lowest free; abort frees both", async () => {
    const registry = new FileRegistry(path);
    const slot = { min: 10, max: 12 };
    const a = await registry.reserve({ base: "s", slot });
    const b = await registry.reserve({ base: "s", slot });
    const c = await registry.reserve({ base: "s", slot });
    expect([a, b, c].map((e) => [e.id, e.slot])).toEqual([
      ["s", 10],
      ["s-2", 11],
      ["s-3", 12],
    ]);
    await b.abort();
    const d = await registry.reserve({ base: "s", slot });
    expect([d.id, d.slot]).toEqual(["s-2", 11]);
    const noSlot = await registry.reserve();
    expect([noSlot.id, noSlot.slot]).toEqual(["entry", undefined]);
  });

  it("three reserves started before any await get three distinct ids and slots", async () => {
    const registry = new FileRegistry(path);
    const slot = { min: 0, max: 9 };
    const got = await Promise.all([
      registry.reserve({ base: "build", slot }),
      registry.reserve({ base: "build", slot }),
      new FileRegistry(path).reserve({ base: "build", slot }), // another instance, same file
    ]);
    expect(new Set(got.map((e) => e.id)).size).toBe(3);
    expect(new Set(got.map((e) => e.slot)).size).toBe(3);
    expect((await registry.list()).length).toBe(3);
  });

  it("uses the registry's `format` for ids from a base", async () => {
    const registry = new FileRegistry(path, { format: (base, n) => `${base}-${n}` });
    const a = await registry.reserve({ base: "session" });
    const b = await registry.reserve({ base: "session" });
    expect([a.id, b.id]).toEqual(["session-1", "session-2"]);
  });

  it("an explicit id that is taken → EIDTAKEN naming its status and owner", async () => {
    const registry = new FileRegistry(path);
    const web = await registry.reserve({ id: "web", data: { n: 1 } });
    const err = await registry.reserve({ id: "web" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdTakenError);
    const taken = err as IdTakenError;
    expect(taken.code).toBe("EIDTAKEN");
    expect(taken.status).toBe("pending");
    expect(taken.owner).toEqual(me());
    expect(taken.path).toBe(registry.path);
    const since = new Date((await registry.get("web"))!.createdAt).toISOString();
    expect(taken.message).toBe(
      `Id "web" is taken (pending: another operation is in progress, pid ${process.pid} alive since ${since})`,
    );
    await web.commit();
    const active = (await registry.reserve({ id: "web" }).catch((e: unknown) => e)) as IdTakenError;
    expect(active.status).toBe("active");
    expect(active.message).toBe(
      `Id "web" is taken (active: committed by pid ${process.pid} alive, reserved at ${since}; release("web") removes it)`,
    );
    expect(await registry.list()).toHaveLength(1);
  });

  it("a full slot range → EIDSEXHAUSTED, and nothing is written", async () => {
    const registry = new FileRegistry(path);
    await registry.reserve({ base: "s", slot: { min: 0, max: 1 } });
    await registry.reserve({ base: "s", slot: { min: 0, max: 1 } });
    const before = readFileSync(path, "utf8");
    const err = await registry
      .reserve({ base: "s", slot: { min: 0, max: 1 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdsExhaustedError);
    expect((err as IdsExhaustedError).code).toBe("EIDSEXHAUSTED");
    expect((err as Error).message).toBe(
      `Every slot from 0 to 1 is taken in ${registry.path}; release one, or widen the range`,
    );
    expect(readFileSync(path, "utf8")).toBe(before);
    // Another range, or no slot, still works.
    expect((await registry.reserve({ base: "s", slot: { min: 2, max: 2 } })).slot).toBe(2);
  });

  it("commit twice returns the first commit; abort after commit does nothing", async () => {
    const registry = new FileRegistry(path);
    const e = await registry.reserve({ id: "x" });
    const p1 = e.commit({ v: 1 });
    const p2 = e.commit({ v: 2 });
    expect(p2).toBe(p1);
    expect((await p1).data).toEqual({ v: 1 });
    await e.abort();
    await e[Symbol.asyncDispose]();
    expect((await registry.get("x"))?.status).toBe("active");
  });

  it("await using aborts an uncommitted entry and keeps a committed one", async () => {
    const registry = new FileRegistry(path);
    {
      await using e = await registry.reserve({ id: "dropped", slot: { min: 0, max: 0 } });
      expect(e.slot).toBe(0);
    }
    {
      await using e = await registry.reserve({ id: "kept", slot: { min: 0, max: 0 } });
      expect(e.slot).toBe(0); // the disposed entry's slot was freed
      await e.commit();
    }
    expect((await registry.list()).map((e) => [e.id, e.status])).toEqual([["kept", "active"]]);
  });

  it("commit or abort after release(id) → ERESERVATIONLOST, never a resurrection", async () => {
    const registry = new FileRegistry(path);
    const e = await registry.reserve({ id: "x", slot: { min: 0, max: 0 } });
    expect(await registry.release("x")).toBe(true);
    const err = await e.commit({ late: true }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(ReservationLostError);
    expect((err as ReservationLostError).code).toBe("ERESERVATIONLOST");
    expect((err as ReservationLostError).current).toBeUndefined();
    expect(await registry.list()).toEqual([]);
    await expect(e.abort()).rejects.toBeInstanceOf(ReservationLostError);
    await e[Symbol.asyncDispose](); // gone already: disposal does not throw
    expect(await registry.list()).toEqual([]);
  });

  it("a stale abort never removes the entry of whoever holds the id now", async () => {
    const registry = new FileRegistry(path);
    const old = await registry.reserve({ id: "x", slot: { min: 0, max: 0 } });
    await registry.release("x");
    const now = await registry.reserve({ id: "x", slot: { min: 0, max: 0 } });
    const err = (await old.abort().catch((e: unknown) => e)) as ReservationLostError;
    expect(err).toBeInstanceOf(ReservationLostError);
    expect(err.current?.id).toBe("x");
    expect(err.message).toMatch(/the id now belongs to another claim \(pending: /);
    await old[Symbol.asyncDispose]();
    await expect(old.commit()).rejects.toBeInstanceOf(ReservationLostError);
    expect((await registry.list()).map((e) => [e.id, e.status])).toEqual([["x", "pending"]]);
    expect((await now.commit()).status).toBe("active");
  });

  it("commit after abort → ERESERVATIONLOST", async () => {
    const registry = new FileRegistry(path);
    const e = await registry.reserve({ id: "x" });
    await e.abort();
    await e.abort(); // idempotent
    await expect(e.commit()).rejects.toBeInstanceOf(ReservationLostError);
    expect(await registry.list()).toEqual([]);
  });

  it("release(id) of a missing id resolves false and writes nothing", async () => {
    const registry = new FileRegistry(path);
    expect(await registry.release("ghost")).toBe(false);
    expect(existsSync(path)).toBe(false);
    expect(await registry.reclaim()).toEqual([]);
    expect(existsSync(path)).toBe(false);
  });

  it("the file holds plain, versioned JSON with a claim token per entry", async () => {
    const registry = new FileRegistry(path);
    await registry.reserve({ id: "a", data: { list: [1, "two", null], nested: { ok: true } } });
    const file = JSON.parse(readFileSync(path, "utf8"));
    expect(file.format).toBe("interlock.registry");
    expect(file.version).toBe(1);
    expect(file.entries[0].token).toMatch(/^[0-9a-f-]{36}$/);
    expect(file.entries[0].data).toEqual({ list: [1, "two", null], nested: { ok: true } });
    expect((await rawEntries(path))[0]!.id).toBe("a");
  });
});

describe("FileRegistry: waits and errors", () => {
  it("reserve honours timeoutMs and signal while another holder has the lock; nothing written", async () => {
    const registry = new FileRegistry(path);
    const held = await acquireFileLock(registry.lockPath);
    try {
      const timedOut = await registry.reserve({ id: "a", timeoutMs: 30 }).catch((e: unknown) => e);
      expect(timedOut).toBeInstanceOf(LockTimeoutError);
      const reason = new Error("user gave up");
      const ac = new AbortController();
      const p = registry.reserve({ id: "a", signal: ac.signal }).catch((e: unknown) => e);
      ac.abort(reason);
      const aborted = (await p) as Error;
      expect(aborted.name).toBe("AbortError");
      expect(aborted.cause).toBe(reason);
    } finally {
      await held.release();
    }
    expect(existsSync(path)).toBe(false);
    expect((await registry.reserve({ id: "a" })).id).toBe("a");
  });

  it("the registry's timeoutMs bounds commit's wait; the entry stays pending and can commit later", async () => {
    const registry = new FileRegistry(path, { timeoutMs: 30 });
    const e = await registry.reserve({ id: "a" });
    const held = await acquireFileLock(registry.lockPath);
    await expect(e.commit()).rejects.toBeInstanceOf(LockTimeoutError);
    await held.release();
    expect((await registry.get("a"))?.status).toBe("pending");
    expect((await e.commit()).status).toBe("active");
  });

  it("bad arguments throw synchronously, saying what was passed", () => {
    const registry = new FileRegistry(path);
    expect(() => registry.reserve({ id: "a", base: "b" })).toThrow(/not both/);
    expect(() => registry.reserve({ id: "" })).toThrow(/`id` to be a non-empty string/);
    expect(() => registry.reserve({ base: 3 as never })).toThrow(/got the number 3/);
    expect(() => registry.reserve({ slot: { min: 3, max: 1 } })).toThrow(RangeError);
    expect(() => registry.reserve({ slot: { min: 0 } as never })).toThrow(
      /`slot.max` to be an integer, got undefined/,
    );
    expect(() => registry.reserve({ data: new Map() })).toThrow(/data is a Map/);
    expect(() => registry.reserve({ data: { a: [1, undefined] } })).toThrow(
      /data.a\[1\] is undefined/,
    );
    expect(() => registry.reserve({ data: { n: Number.NaN } })).toThrow(/data.n is NaN/);
    expect(() => registry.reserve({ timeoutMs: -1 })).toThrow(RangeError);
    expect(() => registry.reserve(null as never)).toThrow(TypeError);
    expect(() => registry.get("")).toThrow(TypeError);
    expect(() => registry.release(1 as never)).toThrow(TypeError);
    expect(() => registry.reclaim({ force: "yes" as never })).toThrow(/`force` to be a boolean/);
    expect(() => new FileRegistry(path, { format: 1 as never })).toThrow(TypeError);
    expect(() => new FileRegistry(path, { timeoutMs: Number.NaN })).toThrow(RangeError);
    expect(existsSync(path)).toBe(false);
  });

  it("commit with data that is not plain JSON throws synchronously; the entry stays pending", async () => {
    const registry = new FileRegistry(path);
    const e = await registry.reserve({ id: "a" });
    expect(() => e.commit({ when: new Date() } as never)).toThrow(/data.when is a Date/);
    expect((await registry.get("a"))?.status).toBe("pending");
  });

  it("a file that is not a registry is reported and left untouched", async () => {
    const registry = new FileRegistry(path);
    for (const [text, problem] of [
      ['{"sessions": {}}\n', /no "format": "interlock.registry" field/],
      ['{"format": "interlock.registry", "version": 2, "entries": []}\n', /format version 2/],
      [
        '{"format": "interlock.registry", "version": 1, "entries": [{"id": "a"}]}\n',
        /entries\[0\] has "status" undefined/,
      ],
    ] as const) {
      writeFileSync(path, text);
      for (const op of [() => registry.list(), () => registry.reserve({ id: "b" })]) {
        const err = await op().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RegistryFormatError);
        expect((err as RegistryFormatError).code).toBe("EREGISTRYFORMAT");
        expect((err as Error).message).toMatch(problem);
      }
      expect(readFileSync(path, "utf8")).toBe(text);
    }
    writeFileSync(path, "{ not json");
    await expect(registry.list()).rejects.toBeInstanceOf(StateFileCorruptError);
  });
});
