// StateFile changes nothing silently: only values that survive JSON are committed, a file
// that is not UTF-8 is refused byte for byte, and work under the lock answers the signal.
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { StateFile, StateFileCorruptError } from "../../src/atomic/index.js";
import { jsonErrorPosition } from "../../src/atomic/json-text.js";
import { AbortError, LockLostError } from "../../src/errors.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { isRoot, runFixture, tempFilesIn } from "./helpers.js";

const newTempDir = useTempDir();
let dir: string;
beforeEach(() => {
  dir = newTempDir();
});

async function refused(next: unknown) {
  const p = join(dir, "s.json");
  writeFileSync(p, '{"n":1}\n');
  const state = new StateFile<any>(p, { defaults: {} });
  const err = await state.update(() => next).catch((e) => e);
  expect(readFileSync(p, "utf8")).toBe('{"n":1}\n');
  expect(await tempFilesIn(dir)).toEqual([]);
  return err;
}

describe("StateFile accepts only what round-trips through JSON", () => {
  it.each([
    ["a Map", { sessions: new Map([["a", 1]]) }, /state\.sessions is a Map/],
    ["a Set", { tags: new Set(["x"]) }, /state\.tags is a Set/],
    ["a Date", { s: { "a b": { when: new Date(0) } } }, /state\.s\["a b"\]\.when is a Date/],
    ["NaN", { n: Number.NaN }, /state\.n is NaN/],
    ["Infinity", { n: [1, Number.POSITIVE_INFINITY] }, /state\.n\[1\] is Infinity/],
    ["undefined in an array", { list: [1, undefined, 3] }, /state\.list\[1\] is undefined/],
    ["a bigint", { big: 10n }, /state\.big is a bigint/],
    ["a function", { f: () => 1 }, /state\.f is a function/],
    ["a class instance", { u: new (class User {})() }, /state\.u is a User instance/],
  ])("%s: TypeError naming the path to the bad value, nothing written", async (_, next, msg) => {
    const err = await refused(next);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(msg);
    expect(err.message).toMatch(/Nothing was written/);
  });

  it("a circular state: TypeError, not a stack overflow", async () => {
    const s: any = { a: { b: {} } };
    s.a.b.back = s;
    const err = await refused(s);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/state\.a\.b\.back refers back to one of its own parents/);
  });

  it("a state 10,000 levels deep: TypeError, not a stack overflow", async () => {
    let deep: any = {};
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    const err = await refused(deep);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(/nested deeper than 1000 levels/);
  });

  it("an object property set to undefined is dropped, as deleting it would", async () => {
    const p = join(dir, "s.json");
    const state = new StateFile<any>(p, { defaults: { a: 1, b: 2 } });
    await state.update((s) => ({ ...s, b: undefined }));
    expect(await state.read()).toEqual({ a: 1 });
  });

  it("a custom serialize hook decides for itself (no JSON check)", async () => {
    const p = join(dir, "s.txt");
    const state = new StateFile<Map<string, number>>(p, {
      defaults: new Map(),
      serialize: (m) => JSON.stringify([...m]),
      parse: (t) => new Map(JSON.parse(t)),
    });
    await state.update((m) => m.set("a", 1));
    expect((await state.read()).get("a")).toBe(1);
  });
});

describe("StateFile never decodes lossily", () => {
  it("invalid UTF-8: ESTATECORRUPT with the byte offset, the bytes kept, nothing written", async () => {
    const p = join(dir, "s.json");
    const bytes = Buffer.concat([
      Buffer.from('{"name":"caf'),
      Buffer.from([0xe9]),
      Buffer.from('"}\n'),
    ]);
    writeFileSync(p, bytes);
    const state = new StateFile<any>(p, { defaults: {} });
    const err = await state.read().catch((e) => e);
    expect(err).toBeInstanceOf(StateFileCorruptError);
    expect(err).toMatchObject({ code: "ESTATECORRUPT", byte: 12, line: 1, column: 13 });
    expect(err.message).toMatch(/is not valid UTF-8 \(byte 12, 0xe9\)/);
    await expect(state.update((s) => s)).rejects.toBeInstanceOf(StateFileCorruptError);
    expect(readFileSync(p).equals(bytes)).toBe(true);
  });

  it("a parse error past depth 2,000 gets its true position", () => {
    const text = `${"[".repeat(3_000)}x`;
    expect(jsonErrorPosition(text)).toBe(3_000);
    expect(jsonErrorPosition(`${"[".repeat(3_000)}${"]".repeat(3_000)}`)).toBeUndefined();
  });
});

describe("StateFile under its lock still answers the signal", () => {
  it("an abort while fn runs rejects at once and frees the lock for the next update", async () => {
    const p = join(dir, "s.json");
    const state = new StateFile(p, { defaults: { n: 0 } });
    const ac = new AbortController();
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const stuck = state.update(
      () => {
        entered();
        return new Promise<{ n: number }>(() => {});
      },
      { signal: ac.signal },
    );
    await inside;
    ac.abort(new Error("user gave up"));
    const err = await stuck.catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.cause.message).toBe("user gave up");
    // The lock was given back: the next update runs, and nothing of the first landed.
    expect(await state.update((s) => ({ n: s.n + 1 }), { timeoutMs: 5_000 })).toEqual({ n: 1 });
  });

  it("a lock file deleted while fn runs: LockLostError, nothing committed", async () => {
    const p = join(dir, "s.json");
    writeFileSync(p, '{"n":1}\n');
    const state = new StateFile(p, { defaults: { n: 0 } });
    const err = await state
      .update((s) => {
        rmSync(state.lockPath);
        return { n: s.n + 1 };
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(LockLostError);
    expect(err).toMatchObject({ code: "ELOCKLOST", reason: "replaced" });
    expect(readFileSync(p, "utf8")).toBe('{"n":1}\n');
  });
});

describe("StateFile messages", () => {
  it("a lock file left by another user (a run under sudo) is named with its owner, not as an unwritable directory", async () => {
    const p = join(dir, "s.json");
    writeFileSync(`${p}.lock`, "");
    chmodSync(dir, 0o777);
    let r: { ok: boolean; code?: string; message?: string };
    if (isRoot) {
      // Root ignores permission bits; the other user is played by uid 65534.
      chmodSync(`${p}.lock`, 0o644);
      const out = await runFixture("atomic-state-worker", ["serve", p], {
        input: '{"op":"add","by":1}\n',
        uid: 65534,
        gid: 65534,
        env: { ...process.env, HOME: dir },
      });
      r = JSON.parse(out.stdout);
    } else {
      chmodSync(`${p}.lock`, 0o444);
      const err = await new StateFile(p, { defaults: { n: 0 } }).update((s) => s).catch((e) => e);
      r = { ok: false, code: err.code, message: err.message };
    }
    expect(r).toMatchObject({ ok: false, code: "EFLOCKACCES" });
    expect(r.message).toMatch(/it exists, owned by uid \d+, mode 0(644|444)/);
    expect(r.message).toMatch(/sudo/);
    expect(r.message).not.toMatch(/cannot be created/);
  });

  it("a path ending in a slash: TypeError naming it", () => {
    expect(() => new StateFile(`${dir}/s.json/`, { defaults: {} })).toThrow(/ends with a slash/);
  });
});
