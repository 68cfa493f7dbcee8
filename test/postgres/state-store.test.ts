import { describe, expect, it } from "vitest";
import { AbortError, LockTimeoutError } from "../../src/errors.js";
import { StaleFenceError, StateInvalidError } from "../../src/postgres/index.js";
import { sql } from "./cluster.js";
import { pgAdminUrl, until, useBackends } from "./helpers.js";

const connect = useBackends();

/** Backend pids waiting for a lock (row locks included) right now. */
async function waitingPids(): Promise<number[]> {
  const rows = await sql<{ pid: number }>(
    pgAdminUrl(),
    "SELECT DISTINCT pid FROM pg_locks WHERE NOT granted",
  );
  return rows.map((r) => r.pid);
}

describe("stateStore", () => {
  it("reads the defaults until written, then the committed value", async () => {
    const b = await connect();
    const store = b.stateStore("cfg", { defaults: { n: 0, tags: [] as string[] } });
    const d = await store.read();
    d.tags.push("mutated");
    expect(await store.read()).toEqual({ n: 0, tags: [] });
    const next = await store.update((s) => {
      s.n = 5;
      return s;
    });
    expect(next).toEqual({ n: 5, tags: [] });
    expect(await store.read()).toEqual({ n: 5, tags: [] });
  });

  it("concurrent updates from two clients lose nothing; fn runs exactly once per update", async () => {
    const a = await connect();
    const c = await connect();
    let calls = 0;
    const bump = (s: { n: number }) => {
      calls++;
      return { n: s.n + 1 };
    };
    const sa = a.stateStore("count", { defaults: { n: 0 } });
    const sc = c.stateStore("count", { defaults: { n: 0 } });
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? sa : sc).update(bump)));
    expect(calls).toBe(40);
    expect((await sa.read()).n).toBe(40);
  });

  it("a fenced write is refused once a newer token has written, and fn is not called", async () => {
    const b = await connect();
    const store = b.stateStore("fenced", { defaults: { owner: "" } });
    const old = await b.acquireLock("job");
    await old.release();
    const newer = await b.acquireLock("job");
    await store.update(() => ({ owner: "newer" }), { fence: newer.token });
    let called = false;
    const err = await store
      .update(
        () => {
          called = true;
          return { owner: "old" };
        },
        { fence: old.token },
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(StaleFenceError);
    expect(err).toMatchObject({ code: "ESTALEFENCE", token: old.token, newest: newer.token });
    expect(called).toBe(false);
    expect(await store.read()).toEqual({ owner: "newer" });
    // The same token may write again, and an unfenced write does not lower the fence.
    await store.update(() => ({ owner: "newer again" }), { fence: newer.token });
    await store.update(() => ({ owner: "unfenced" }));
    await expect(store.update((s) => s, { fence: old.token })).rejects.toBeInstanceOf(
      StaleFenceError,
    );
    await newer.release();
  });

  it("validate false rejects with StateInvalidError and writes nothing; fn errors roll back", async () => {
    const b = await connect();
    const store = b.stateStore("v", { defaults: { n: 1 }, validate: (s) => s.n > 0 });
    await expect(store.update(() => ({ n: 0 }))).rejects.toBeInstanceOf(StateInvalidError);
    await expect(
      store.update(() => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    await expect(store.update(() => undefined as never)).rejects.toThrow(/returned undefined/);
    expect(await store.read()).toEqual({ n: 1 });
  });

  it("timeoutMs and signal bound the wait for the row lock; nothing is written", async () => {
    const a = await connect();
    const c = await connect();
    const sa = a.stateStore("busy", { defaults: { n: 0 } });
    const sc = c.stateStore("busy", { defaults: { n: 0 } });
    await sa.update((s) => s);
    let letGo!: () => void;
    const held = sa.update(async (s) => {
      await new Promise<void>((r) => {
        letGo = r;
      });
      return { n: s.n + 1 };
    });
    await until(() => (letGo === undefined ? undefined : true), "first update to hold the row");
    await expect(sc.update((s) => ({ n: s.n + 100 }), { timeoutMs: 150 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    const ac = new AbortController();
    const aborted = sc.update((s) => ({ n: s.n + 1000 }), { signal: ac.signal });
    // Some row-lock waiter exists (ours, unless a parallel test's): abort then. Either way
    // the outcome must be AbortError and no write.
    await until(async () => ((await waitingPids()).length > 0 ? true : undefined), "a waiter");
    ac.abort(new Error("stop"));
    const err = await aborted.catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    letGo();
    expect(await held).toEqual({ n: 1 });
    expect(await sc.read()).toEqual({ n: 1 });
  });

  it("rejects bad arguments synchronously", async () => {
    const b = await connect();
    expect(() => b.stateStore("", { defaults: 1 })).toThrow(TypeError);
    expect(() => b.stateStore("k", {} as never)).toThrow(/defaults/);
    const store = b.stateStore("k", { defaults: 1 });
    expect(() => store.update(null as never)).toThrow(TypeError);
    expect(() => store.update((s) => s, { fence: -1 })).toThrow(/fencing token/);
    expect(() => store.update((s) => s, { timeoutMs: Number.NaN })).toThrow(RangeError);
  });
});
