// The Web Locks semantics, one thread: written after the behaviours the WPT `web-locks`
// suite checks (request, ifAvailable, mode-shared/mixed, held, signal, steal, query),
// against interlock's LockManager on a fresh directory per test.
import { readdirSync } from "node:fs";
import { beforeEach, describe, expect, it } from "vitest";
import {
  AbortError,
  type Lock,
  LockManager,
  LockTimeoutError,
  NotSupportedError,
} from "../../src/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { deferred, turn } from "./helpers.js";

const newTempDir = useTempDir();
let locks: LockManager;
let dir: string;

beforeEach(() => {
  dir = newTempDir();
  locks = new LockManager({ dir });
});

/** Requests `name` and holds it until the returned `release` is called. */
async function holdLock(name: string, options: object = {}) {
  const gate = deferred();
  const granted = deferred<Lock>();
  const done = locks.request(name, options, async (lock) => {
    granted.resolve(lock!);
    await gate.promise;
    return "released";
  });
  const lock = await granted.promise;
  return { lock, done, release: () => gate.resolve() };
}

const modes = (list: { name: string; mode: string }[], name: string) =>
  list.filter((i) => i.name === name).map((i) => i.mode);

describe("request()", () => {
  it("runs the callback with {name, mode, token} and resolves with its result", async () => {
    const lock = await locks.request("res", (l) => ({ ...l }));
    expect(lock).toMatchObject({ name: "res", mode: "exclusive" });
    expect(await locks.request("res", { mode: "shared" }, (l) => l.mode)).toBe("shared");
    expect(await locks.request("res", async () => 123)).toBe(123);
  });

  it("its promise resolves only after the lock is released (after the callback's promise settles)", async () => {
    const order: string[] = [];
    const gate = deferred();
    const returned = locks.request("res", () => gate.promise.then(() => order.push("holding")));
    void returned.then(() => order.push("returned"));
    gate.resolve();
    await returned;
    expect(order).toEqual(["holding", "returned"]);
  });

  it("holds the lock until the callback's promise resolves, or rejects", async () => {
    for (const settle of ["resolve", "reject"] as const) {
      const order: string[] = [];
      const gate = deferred();
      const granted = deferred();
      const held = locks.request("res", async () => {
        granted.resolve();
        await gate.promise;
        order.push(`1st ${settle}`);
        if (settle === "reject") throw new Error("expected");
      });
      await granted.promise;
      const second = locks.request("res", () => {
        order.push("2nd granted");
      });
      // Turns of the event loop while the first holds: the second must not run.
      for (let i = 0; i < 5; i++) await turn();
      expect(order).toEqual([]);
      gate.resolve();
      await Promise.allSettled([held, second]);
      expect(order).toEqual([`1st ${settle}`, "2nd granted"]);
    }
  });

  it("rejects with what the callback throws, synchronously or not, and releases the lock", async () => {
    const err = { name: "test" };
    await expect(
      locks.request("res", () => {
        throw err;
      }),
    ).rejects.toBe(err);
    await expect(
      locks.request("res", async () => {
        throw err;
      }),
    ).rejects.toBe(err);
    // Released: available at once.
    expect(await locks.request("res", { ifAvailable: true }, (l) => l !== null)).toBe(true);
  });

  it("a later request of the same name waits; nested requests of other names are granted", async () => {
    const r = await locks.request("outer", async () => {
      return locks.request("inner", async () => locks.request("innermost", () => "deep"));
    });
    expect(r).toBe("deep");
  });

  it("grants in request order (FIFO), shared requests together, an exclusive after them", async () => {
    const gate = deferred();
    const granted: string[] = [];
    const shared = [1, 2, 3].map((i) =>
      locks.request("a", { mode: "shared" }, async () => {
        granted.push(`a-shared-${i}`);
        await gate.promise;
      }),
    );
    let exclusive: Lock | undefined;
    const waiting = locks.request("a", async (lock) => {
      granted.push("a-exclusive");
      exclusive = lock;
    });
    await locks.request("b", () => {
      granted.push("b-exclusive");
    });
    expect(granted).toEqual(["a-shared-1", "a-shared-2", "a-shared-3", "b-exclusive"]);
    gate.resolve();
    await Promise.all([...shared, waiting]);
    expect(exclusive?.mode).toBe("exclusive");
    expect(granted.at(-1)).toBe("a-exclusive");
  });

  it("exclusive requests of one name are granted one at a time, in request order", async () => {
    const order: number[] = [];
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        locks.request("res", async () => {
          inside++;
          most = Math.max(most, inside);
          order.push(i);
          await turn();
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("shared locks are not exclusive: a nested shared request of a held shared name is granted", async () => {
    const nested = await locks.request("a", { mode: "shared" }, () =>
      locks.request("a", { mode: "shared" }, () => "again"),
    );
    expect(nested).toBe("again");
  });

  it("names are distinct strings: lone surrogates, U+FFFD, empty, NUL, '..' are separate locks", async () => {
    const names = [
      "",
      "abc\x00def",
      "\uD800",
      "\uDC00",
      "\uDC00\uD800",
      "\uFFFF",
      "\uFFFD",
      "..",
      ".",
    ];
    const granted = await locks.request(names[0]!, async () => {
      const inner: string[] = [];
      for (const name of names.slice(1)) {
        // Each nested under all the previous: any two that shared a lock would deadlock,
        // ifAvailable makes that a null instead.
        inner.push(await locks.request(name, { ifAvailable: true }, (l) => l?.name ?? "BUSY"));
      }
      return inner;
    });
    expect(granted).toEqual(names.slice(1));
    for (const f of readdirSync(dir)) expect(f === ".registry" || f.endsWith(".lock")).toBe(true);
  });
});

describe("ifAvailable", () => {
  it("grants a free lock", async () => {
    expect(await locks.request("res", { ifAvailable: true }, (l) => l?.name)).toBe("res");
  });

  it("calls back with null, and resolves with the callback's result, when held in this thread", async () => {
    const r = await locks.request("res", () =>
      locks.request("res", { ifAvailable: true }, async (lock) => {
        expect(lock).toBeNull();
        return 123;
      }),
    );
    expect(r).toBe(123);
  });

  it("rejects with what the null callback throws", async () => {
    const err = { name: "test" };
    await locks.request("res", async () => {
      await expect(
        locks.request("res", { ifAvailable: true }, () => {
          throw err;
        }),
      ).rejects.toBe(err);
    });
  });

  it("is refused behind a queued request, even before the holder's callback has started", async () => {
    const { release, done } = await holdLock("res");
    const queued = locks.request("res", () => "queued");
    expect(await locks.request("res", { ifAvailable: true }, (l) => l)).toBeNull();
    release();
    await done;
    expect(await queued).toBe("queued");
  });

  it("shared after shared is granted; exclusive after shared and shared after exclusive are not", async () => {
    await locks.request("s", { mode: "shared" }, async () => {
      expect(await locks.request("s", { mode: "shared", ifAvailable: true }, (l) => l?.mode)).toBe(
        "shared",
      );
      expect(await locks.request("s", { ifAvailable: true }, (l) => l)).toBeNull();
    });
    await locks.request("x", async () => {
      expect(await locks.request("x", { mode: "shared", ifAvailable: true }, (l) => l)).toBeNull();
    });
  });

  it("is granted again once the previous holder's release is processed", async () => {
    await locks.request("r1", async () => {
      await locks.request("r2", () => {});
      expect(await locks.request("r2", { ifAvailable: true }, (l) => l !== null)).toBe(true);
    });
  });
});

describe("signal and timeoutMs", () => {
  it("an already aborted signal rejects with AbortError (cause = reason) and never calls back", async () => {
    const reason = new Error("gone");
    let called = false;
    const err = await locks
      .request("res", { signal: AbortSignal.abort(reason) }, () => {
        called = true;
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toMatchObject({ name: "AbortError", code: "ABORT_ERR", cause: reason });
    expect(called).toBe(false);
  });

  it("aborting a queued request rejects it with AbortError and it never runs; the next one does", async () => {
    const { release, done } = await holdLock("res");
    const ac = new AbortController();
    let called = false;
    const aborted = locks.request("res", { signal: ac.signal }, () => {
      called = true;
    });
    const next = locks.request("res", () => "next");
    const snap = await locks.query();
    expect(modes(snap.held, "res")).toEqual(["exclusive"]);
    expect(modes(snap.pending, "res")).toEqual(["exclusive", "exclusive"]);
    ac.abort("stop");
    await expect(aborted).rejects.toMatchObject({ name: "AbortError", cause: "stop" });
    release();
    await done;
    expect(await next).toBe("next");
    expect(called).toBe(false);
  });

  it("a synchronously signaled abort wins over a grantable lock, and does not block later requests", async () => {
    const ac = new AbortController();
    let called = false;
    const p = locks.request("res", { signal: ac.signal }, () => {
      called = true;
    });
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: "AbortError" });
    expect(called).toBe(false);
    expect(await locks.request("res", { ifAvailable: true }, (l) => l !== null)).toBe(true);
  });

  it("an abort after the grant changes nothing: the request resolves with the callback's result", async () => {
    for (const abortFirst of [true, false]) {
      const ac = new AbortController();
      const granted = deferred();
      const gate = deferred<string>();
      const p = locks.request("res", { signal: ac.signal }, () => {
        granted.resolve();
        return gate.promise;
      });
      await granted.promise;
      if (abortFirst) ac.abort();
      gate.resolve("resolved ok");
      if (!abortFirst) ac.abort();
      expect(await p).toBe("resolved ok");
    }
  });

  it("aborting the head waiter passes the lock to the next pending request", async () => {
    const ac = new AbortController();
    const { release, done } = await holdLock("res");
    const first = locks.request("res", { signal: ac.signal }, () => "first");
    const next = locks.request("res", () => "resolved");
    ac.abort();
    await expect(first).rejects.toMatchObject({ name: "AbortError" });
    release();
    await done;
    expect(await next).toBe("resolved");
  });

  it("timeoutMs rejects a waiter with LockTimeoutError naming the lock and its holder", async () => {
    const { release, done } = await holdLock("deploy", { holder: { purpose: "release v2" } });
    const err = await locks.request("deploy", { timeoutMs: 30 }, () => {}).catch((e) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(err.code).toBe("ELOCKTIMEOUT");
    expect(err.message).toContain('exclusive lock "deploy"');
    expect(err.message).toContain(`pid ${process.pid} (release v2)`);
    release();
    await done;
  });
});

describe("steal", () => {
  const never = new Promise<never>(() => {});

  it("grants an available lock", async () => {
    expect(await locks.request("res", { steal: true }, (l) => l.name)).toBe("res");
  });

  it("takes a held lock: the holder's request rejects with AbortError; the stealer's token is newer", async () => {
    let victimLock: Lock | undefined;
    const victim = locks.request("res", (lock) => {
      victimLock = lock;
      return never;
    });
    const stealerLock = await locks.request("res", { steal: true }, (lock) => lock);
    await expect(victim).rejects.toMatchObject({ name: "AbortError", code: "ABORT_ERR" });
    expect(stealerLock.token).toBeGreaterThan(victimLock!.token);
    // The stolen lock was really released: nothing holds it now.
    expect((await locks.query()).held).toEqual([]);
  });

  it("goes ahead of queued requests, which are granted afterwards in their order", async () => {
    const victim = locks.request("res", () => never).catch(() => "stolen");
    const order: string[] = [];
    const queued = [1, 2].map((i) =>
      locks.request("res", () => {
        order.push(`queued-${i}`);
      }),
    );
    await locks.request("res", { steal: true }, () => {
      order.push("steal");
    });
    await Promise.all(queued);
    expect(order).toEqual(["steal", "queued-1", "queued-2"]);
    expect(await victim).toBe("stolen");
  });

  it("last caller wins: a second steal revokes the first", async () => {
    void locks.request("res", () => never).catch(() => {});
    let sawAbort = false;
    const first = locks
      .request("res", { steal: true }, () => never)
      .catch((e) => {
        sawAbort = e.name === "AbortError";
      });
    await locks.request("res", { steal: true }, () => {});
    await first;
    expect(sawAbort).toBe(true);
  });

  it("revokes shared holders of this thread", async () => {
    const a = locks.request("res", { mode: "shared" }, () => never);
    const b = locks.request("res", { mode: "shared" }, () => never);
    expect(await locks.request("res", { steal: true }, (l) => l.mode)).toBe("exclusive");
    await expect(a).rejects.toMatchObject({ name: "AbortError" });
    await expect(b).rejects.toMatchObject({ name: "AbortError" });
  });
});

describe("bad arguments", () => {
  it("throws synchronously for the option combinations the Web Locks API refuses", () => {
    const cb = () => {};
    const signal = new AbortController().signal;
    for (const options of [
      { steal: true, ifAvailable: true },
      { mode: "shared" as const, steal: true },
      { signal, steal: true },
      { signal, ifAvailable: true },
      { timeoutMs: 10, ifAvailable: true },
    ]) {
      let err: unknown;
      try {
        void locks.request("res", options, cb);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(options)).toBeInstanceOf(NotSupportedError);
      expect(err).toMatchObject({ name: "NotSupportedError", code: "ELOCKNOTSUPPORTED" });
    }
  });

  it("refuses names starting with '-', accepts an inner '-'", async () => {
    for (const name of ["-", "-foo"]) {
      expect(() => locks.request(name, () => {})).toThrow(NotSupportedError);
    }
    expect(await locks.request("x-anything", () => true)).toBe(true);
  });

  it("throws TypeError for a bad mode, callback, options, flags, holder or name", () => {
    const cb = () => {};
    expect(() => locks.request("r", { mode: "foo" as never }, cb)).toThrow(
      /"exclusive" or "shared", got the string "foo"/,
    );
    expect(() => locks.request("r", { mode: null as never }, cb)).toThrow(TypeError);
    for (const bad of [undefined, null, 123, "abc", [], {}, Promise.resolve()]) {
      expect(() => locks.request("r", bad as never)).toThrow(TypeError);
    }
    expect(() => locks.request("r", 1000 as never, cb)).toThrow(/got the number 1000/);
    expect(() => locks.request("r", { ifAvailable: "yes" as never }, cb)).toThrow(TypeError);
    expect(() => locks.request("r", { holder: [] as never }, cb)).toThrow(TypeError);
    expect(() => locks.request(42 as never, cb)).toThrow(/got the number 42/);
    const loose = locks.request.bind(locks) as (...args: unknown[]) => unknown;
    expect(() => loose("r", cb, {})).toThrow(/options go before the callback/);
    expect(() => locks.request("r", { signal: "x" as never }, cb)).toThrow(TypeError);
    expect(() => locks.request("r", { timeoutMs: -1 }, cb)).toThrow(RangeError);
    expect(() => locks.request("x".repeat(5000), cb)).toThrow(RangeError);
    expect(() => new LockManager({ dir: "" })).toThrow(TypeError);
    expect(() => new LockManager(undefined as never)).toThrow(TypeError);
    // Nothing was left queued by the refused calls.
    return expect(locks.query()).resolves.toEqual({ held: [], pending: [] });
  });
});

describe("query()", () => {
  it("returns {held, pending} entries with name, mode, clientId, pid, hostname, since", async () => {
    const { release, done } = await holdLock("res", { holder: { purpose: "test" } });
    const waiting = locks.request("res", { mode: "shared" }, () => {});
    const snap = await locks.query();
    for (const list of [snap.held, snap.pending]) {
      expect(list).toHaveLength(1);
      expect(Object.keys(list[0]!).sort()).toEqual(
        expect.arrayContaining(["clientId", "hostname", "mode", "name", "pid", "since"]),
      );
      expect(list[0]).toMatchObject({ name: "res", clientId: locks.clientId, pid: process.pid });
    }
    expect(snap.held[0]).toMatchObject({ mode: "exclusive", holder: { purpose: "test" } });
    expect(snap.pending[0]).toMatchObject({ mode: "shared" });
    expect(snap.pending[0]!.holder).toBeUndefined();
    release();
    await Promise.all([done, waiting]);
    expect(await locks.query()).toEqual({ held: [], pending: [] });
  });

  it("reports each held lock once, shared holders with their count, pending shared requests", async () => {
    await locks.request("res", async () => {
      expect(modes((await locks.query()).held, "res")).toEqual(["exclusive"]);
    });
    await locks.request("res", { mode: "shared" }, () =>
      locks.request("res", { mode: "shared" }, async () => {
        expect(modes((await locks.query()).held, "res")).toEqual(["shared", "shared"]);
      }),
    );
    await locks.request("res", async () => {
      const waiting = [1, 2].map(() => locks.request("res", { mode: "shared" }, () => {}));
      const snap = await locks.query();
      expect(modes(snap.held, "res")).toEqual(["exclusive"]);
      expect(modes(snap.pending, "res")).toEqual(["shared", "shared"]);
      void Promise.all(waiting);
    });
  });

  it("reports the same clientId for every request of this thread, and another manager on the same dir sees them", async () => {
    await locks.request("r1", () =>
      locks.request("r2", async () => {
        const other = new LockManager({ dir });
        const snap = await other.query();
        expect(snap.held.map((h) => h.name)).toEqual(["r1", "r2"]);
        expect(new Set(snap.held.map((h) => h.clientId))).toEqual(new Set([locks.clientId]));
      }),
    );
  });

  it("orders held locks by grant time", async () => {
    const a = await holdLock("a");
    const b = await holdLock("b");
    const c = await holdLock("c");
    expect((await locks.query()).held.map((h) => h.name)).toEqual(["a", "b", "c"]);
    for (const h of [a, b, c]) h.release();
    await Promise.all([a.done, b.done, c.done]);
  });
});
