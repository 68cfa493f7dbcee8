// backend.locks, the Web Locks API on PostgreSQL, within one process: the behaviours of
// test/locks/lock-manager.test.ts (after the WPT `web-locks` suite) that apply, against
// a real server, plus what this backend adds: lock.signal, tokens as fencing tokens,
// one lock space with acquireLock, and query() read by another client.
import { beforeEach, describe, expect, it } from "vitest";
import { AbortError, LockTimeoutError } from "../../src/errors.js";
import {
  LockLostError,
  NotSupportedError,
  type PostgresBackend,
  type PostgresLock,
  type PostgresLockManager,
} from "../../src/postgres/index.js";
import { deferred, turn } from "../locks/helpers.js";
import { sql } from "./cluster.js";
import { locksOf, pgUrl, terminate, until, useBackends } from "./helpers.js";

const connect = useBackends();
let backend: PostgresBackend;
let locks: PostgresLockManager;

beforeEach(async () => {
  backend = await connect();
  locks = backend.locks;
});

/** Requests `name` and holds it until the returned `release` is called. */
async function holdLock(name: string, options: object = {}, on: PostgresLockManager = locks) {
  const gate = deferred();
  const granted = deferred<PostgresLock>();
  const done = on.request(name, options, async (lock) => {
    granted.resolve(lock!);
    await gate.promise;
    return "released";
  });
  const lock = await granted.promise;
  return { lock, done, release: () => gate.resolve() };
}

const modes = (list: { name: string; mode: string }[], name: string) =>
  list.filter((i) => i.name === name).map((i) => i.mode);

/** Server-side waiters (ungranted pg_locks rows) for `name` of this test's namespace. */
const waitersOf = async (name: string) =>
  (await locksOf(backend.namespace, name)).filter((r) => !r.granted);

describe("request()", () => {
  it("runs the callback with {name, mode, token, signal} and resolves with its result", async () => {
    const lock = await locks.request("res", (l) => ({ ...l, signal: l.signal }));
    expect(lock).toMatchObject({ name: "res", mode: "exclusive" });
    expect(lock.token).toBeGreaterThan(0);
    // The lock's own signal: released once the request is done.
    expect(lock.signal.aborted).toBe(true);
    expect(lock.signal.reason).toMatchObject({ code: "ELOCKRELEASED" });
    expect(await locks.request("res", { mode: "shared" }, (l) => l.mode)).toBe("shared");
    expect(await locks.request("res", async () => 123)).toBe(123);
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
    expect(await locks.request("res", { ifAvailable: true }, (l) => l !== null)).toBe(true);
    expect(await locksOf(backend.namespace, "res")).toEqual([]);
  });

  it("nested requests of other names are granted", async () => {
    const r = await locks.request("outer", async () =>
      locks.request("inner", async () => locks.request("innermost", () => "deep")),
    );
    expect(r).toBe("deep");
  });

  it("grants in request order (FIFO): shared requests together, an exclusive after them", async () => {
    const gate = deferred();
    const granted: string[] = [];
    const shared = [1, 2, 3].map((i) =>
      locks.request("a", { mode: "shared" }, async () => {
        granted.push(`shared-${i}`);
        await gate.promise;
      }),
    );
    const waiting = locks.request("a", async (lock) => {
      granted.push(`exclusive ${lock.mode}`);
    });
    const later = locks.request("a", { mode: "shared" }, () => {
      granted.push("shared-after");
    });
    // The three shared requests overlap: all granted while the first still holds, and
    // the exclusive one waits for all three.
    await until(() => (granted.length === 3 ? true : undefined), "the shared grants");
    for (let i = 0; i < 5; i++) await turn();
    expect(granted.sort()).toEqual(["shared-1", "shared-2", "shared-3"]);
    gate.resolve();
    await Promise.all([...shared, waiting, later]);
    expect(granted.slice(3)).toEqual(["exclusive exclusive", "shared-after"]);
  });

  it("exclusive requests of one name are granted one at a time, in request order, tokens rising", async () => {
    const order: number[] = [];
    const tokens: number[] = [];
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        locks.request("res", async (lock) => {
          inside++;
          most = Math.max(most, inside);
          order.push(i);
          tokens.push(lock.token);
          await turn();
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
  });

  it("a nested shared request of a held shared name is granted", async () => {
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
        inner.push(await locks.request(name, { ifAvailable: true }, (l) => l?.name ?? "BUSY"));
      }
      return inner;
    });
    expect(granted).toEqual(names.slice(1));
  });

  it("is the same lock as acquireLock(name): they exclude each other", async () => {
    const handle = await backend.acquireLock("shared-space");
    expect(await locks.request("shared-space", { ifAvailable: true }, (l) => l)).toBeNull();
    await handle.release();
    const inside = await locks.request("shared-space", async (lock) => {
      expect(await backend.tryAcquireLock("shared-space")).toBeUndefined();
      return lock.token;
    });
    expect(inside).toBeGreaterThan(handle.token);
  });
});

describe("ifAvailable", () => {
  it("calls back with null, and resolves with the callback's result, when held in this backend", async () => {
    const r = await locks.request("res", () =>
      locks.request("res", { ifAvailable: true }, async (lock) => {
        expect(lock).toBeNull();
        return 123;
      }),
    );
    expect(r).toBe(123);
  });

  it("is null while another client holds the lock, and leaves nothing on the server", async () => {
    const other = await connect();
    const held = await holdLock("res", {}, other.locks);
    expect(await locks.request("res", { ifAvailable: true }, (l) => l)).toBeNull();
    expect(await waitersOf("res")).toEqual([]);
    held.release();
    await held.done;
    expect(await locks.request("res", { ifAvailable: true }, (l) => l?.name)).toBe("res");
  });

  it("is refused behind a queued request", async () => {
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

  it("aborting a request queued in this backend rejects it with AbortError; the next one runs", async () => {
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

  it("aborting a request queued on the server rejects it and leaves no waiter in pg_locks or query()", async () => {
    const other = await connect();
    const held = await holdLock("res", {}, other.locks);
    const ac = new AbortController();
    const aborted = locks.request("res", { signal: ac.signal }, () => "never");
    await until(async () => ((await waitersOf("res")).length === 1 ? true : undefined), "queued");
    expect(modes((await other.locks.query()).pending, "res")).toEqual(["exclusive"]);
    ac.abort("stop");
    await expect(aborted).rejects.toMatchObject({ name: "AbortError", cause: "stop" });
    // Rejected: the server's queue no longer has it, and no client reports it.
    expect(await waitersOf("res")).toEqual([]);
    expect((await other.locks.query()).pending).toEqual([]);
    held.release();
    await held.done;
  });

  it("timeoutMs while queued on the server rejects with LockTimeoutError naming the holder, and leaves no waiter", async () => {
    const other = await connect();
    const held = await holdLock("deploy", { holder: { purpose: "release v2" } }, other.locks);
    const err = await locks.request("deploy", { timeoutMs: 200 }, () => {}).catch((e) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(err.code).toBe("ELOCKTIMEOUT");
    expect(err.message).toContain('exclusive PostgreSQL lock "deploy"');
    expect(err.message).toContain(`pid ${process.pid} on `);
    expect(err.message).toContain("(release v2)");
    expect(await waitersOf("deploy")).toEqual([]);
    expect((await other.locks.query()).pending).toEqual([]);
    held.release();
    await held.done;
  });

  it("a timeout while queued on the server leaves no record on its session, which is reused", async () => {
    const other = await connect();
    const held = await holdLock("deploy", {}, other.locks);
    await expect(
      locks.request("deploy", { timeoutMs: 100, holder: { purpose: "late" } }, () => {}),
    ).rejects.toBeInstanceOf(LockTimeoutError);
    const records = await sql(
      pgUrl(),
      "SELECT backend_pid FROM interlock.holders WHERE client = $1 AND lock_key IS NOT NULL",
      [locks.clientId],
    );
    expect(records).toEqual([]);
    held.release();
    await held.done;
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
    expect(await locksOf(backend.namespace, "res")).toEqual([]);
  });

  it("a timeout while queued in this backend leaves no row that query() could show", async () => {
    const { release, done } = await holdLock("res");
    const other = await connect();
    const timedOut = locks.request("res", { timeoutMs: 300 }, () => {});
    await until(
      async () => ((await other.locks.query()).pending.length === 1 ? true : undefined),
      "the queued request seen by another client",
    );
    await expect(timedOut).rejects.toBeInstanceOf(LockTimeoutError);
    expect((await other.locks.query()).pending).toEqual([]);
    release();
    await done;
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
});

describe("lock.signal and loss", () => {
  it("aborts with LockLostError when the lock's session is terminated; the request then rejects with it", async () => {
    const { lock, release, done } = await holdLock("res");
    const [row] = await locksOf(backend.namespace, "res");
    await terminate(row!.pid);
    await until(() => (lock.signal.aborted ? true : undefined), "the loss");
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(lock.signal.reason).toMatchObject({ code: "ELOCKLOST", reason: "connection-ended" });
    // Another client can take it now, while the callback still runs.
    const other = await connect();
    expect(await other.locks.request("res", { ifAvailable: true }, (l) => l?.name)).toBe("res");
    release();
    await expect(done).rejects.toBeInstanceOf(LockLostError);
    expect((await other.locks.query()).held).toEqual([]);
  });
});

describe("steal", () => {
  const never = new Promise<never>(() => {});

  it("grants an available lock", async () => {
    expect(await locks.request("res", { steal: true }, (l) => l.name)).toBe("res");
  });

  it("takes a lock held in this backend: the holder's request rejects with AbortError, its signal aborts; the stealer's token is newer", async () => {
    const granted = deferred<PostgresLock>();
    const victim = locks
      .request("res", (lock) => {
        granted.resolve(lock);
        return never;
      })
      .catch((e) => e);
    const victimLock = await granted.promise;
    const stealerLock = await locks.request("res", { steal: true }, (lock) => ({ ...lock }));
    expect(await victim).toMatchObject({ name: "AbortError", code: "ABORT_ERR" });
    expect(stealerLock.token).toBeGreaterThan(victimLock.token);
    expect(victimLock.signal.aborted).toBe(true);
    expect((await locks.query()).held).toEqual([]);
    expect(await locksOf(backend.namespace, "res")).toEqual([]);
  });

  it("goes ahead of queued requests, which are granted afterwards in their order", async () => {
    const granted = deferred();
    const victim = locks
      .request("res", () => {
        granted.resolve();
        return never;
      })
      .catch(() => "stolen");
    await granted.promise;
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

  it("revokes shared holders of this backend", async () => {
    const both = [deferred(), deferred()];
    const [a, b] = both.map((g) =>
      locks
        .request("res", { mode: "shared" }, () => {
          g.resolve();
          return never;
        })
        .catch((e) => e),
    );
    await Promise.all(both.map((g) => g.promise));
    expect(await locks.request("res", { steal: true }, (l) => l.mode)).toBe("exclusive");
    expect(await a).toMatchObject({ name: "AbortError" });
    expect(await b).toMatchObject({ name: "AbortError" });
  });

  it("rejects with LockStealError naming another client's holder, and revokes nothing", async () => {
    const other = await connect();
    const held = await holdLock("deploy", { holder: { purpose: "deploy v2" } }, other.locks);
    // A hold's record (its holder fields) is written once it is 25 ms old: until then it is
    // named without them, by design (docs/postgres.md). Wait for the record, not a time.
    await until(
      async () =>
        (await locks.query()).held.find((h) => h.holder?.purpose === "deploy v2") ?? undefined,
      "the holder record of deploy",
    );
    const err = await locks.request("deploy", { steal: true }, () => "stolen").catch((e) => e);
    expect(err).toMatchObject({ name: "LockStealError", code: "ELOCKSTEAL", lockName: "deploy" });
    expect(err.holders).toEqual([
      expect.objectContaining({ clientId: other.locks.clientId, mode: "exclusive" }),
    ]);
    expect(err.message).toContain("(deploy v2)");
    expect(held.lock.signal.aborted).toBe(false);
    held.release();
    await held.done;
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
      expect(() => locks.request("res", options, cb), JSON.stringify(options)).toThrow(
        NotSupportedError,
      );
    }
    for (const name of ["-", "-foo"]) {
      expect(() => locks.request(name, () => {})).toThrow(NotSupportedError);
    }
  });

  it("throws TypeError / RangeError for a bad mode, callback, options, flags, holder or name", () => {
    const cb = () => {};
    expect(() => locks.request("r", { mode: "foo" as never }, cb)).toThrow(
      /"exclusive" or "shared", got the string "foo"/,
    );
    for (const bad of [undefined, null, 123, "abc", [], {}]) {
      expect(() => locks.request("r", bad as never)).toThrow(TypeError);
    }
    expect(() => locks.request("r", 1000 as never, cb)).toThrow(/got the number 1000/);
    expect(() => locks.request("r", { holder: [] as never }, cb)).toThrow(TypeError);
    expect(() => locks.request(42 as never, cb)).toThrow(/got the number 42/);
    expect(() => locks.request("r", { timeoutMs: -1 }, cb)).toThrow(RangeError);
    expect(() => locks.request("x".repeat(5000), cb)).toThrow(RangeError);
    return expect(locks.query()).resolves.toEqual({ held: [], pending: [] });
  });

  it("rejects with EPGCLOSED once the backend is closed", async () => {
    await backend.close();
    await expect(locks.request("r", () => {})).rejects.toMatchObject({ code: "EPGCLOSED" });
    await expect(locks.query()).rejects.toMatchObject({ code: "EPGCLOSED" });
  });
});

describe("query()", () => {
  it("returns {held, pending} with name, mode, clientId, pid, hostname, since, holder; the same seen from another client", async () => {
    const { release, done } = await holdLock("res", { holder: { purpose: "test" } });
    const waiting = locks.request("res", { mode: "shared" }, () => {});
    const other = await connect();
    // The shared request queues in this backend behind the holder: other clients see
    // it once it has waited a turn (its row is written then).
    const seen = await until(async () => {
      const s = await other.locks.query();
      // The holder's fields show once its record is written (at 25 ms): wait for that too.
      return s.pending.length === 1 && s.held[0]?.holder !== undefined ? s : undefined;
    }, "the waiter and the holder's record seen by another client");
    for (const snap of [await locks.query(), seen]) {
      expect(snap.held).toEqual([
        expect.objectContaining({
          name: "res",
          mode: "exclusive",
          clientId: locks.clientId,
          pid: process.pid,
          holder: { purpose: "test" },
        }),
      ]);
      expect(snap.pending).toEqual([
        expect.objectContaining({ name: "res", mode: "shared", clientId: locks.clientId }),
      ]);
      expect(snap.pending[0]!.holder).toBeUndefined();
      // Server and client clocks: the same on this machine, to within the statements' latency.
      for (const e of [...snap.held, ...snap.pending]) {
        expect(Math.abs(e.since - Date.now())).toBeLessThan(60_000);
      }
    }
    release();
    await Promise.all([done, waiting]);
    expect(await locks.query()).toEqual({ held: [], pending: [] });
    expect(await other.locks.query()).toEqual({ held: [], pending: [] });
  });

  it("reports each shared holder once, from this and from another client", async () => {
    const other = await connect();
    await locks.request("res", { mode: "shared" }, () =>
      locks.request("res", { mode: "shared" }, async () => {
        expect(modes((await locks.query()).held, "res")).toEqual(["shared", "shared"]);
        expect(modes((await other.locks.query()).held, "res")).toEqual(["shared", "shared"]);
      }),
    );
    expect((await other.locks.query()).held).toEqual([]);
  });

  it("when the first of a shared hold's requests leaves, another client sees exactly the others", async () => {
    const other = await connect();
    const first = await holdLock("res", { mode: "shared" });
    const second = await holdLock("res", { mode: "shared" });
    const held = () =>
      until(async () => {
        const { held: h } = await other.locks.query();
        return h.length === 2 ? h : undefined;
      }, "both shared holders");
    expect((await held()).map((e) => e.mode)).toEqual(["shared", "shared"]);
    first.release();
    await first.done;
    const after = await other.locks.query();
    expect(after.held).toEqual([
      expect.objectContaining({ name: "res", mode: "shared", clientId: locks.clientId }),
    ]);
    second.release();
    await second.done;
    expect(await other.locks.query()).toEqual({ held: [], pending: [] });
  });

  it("shows nothing of other namespaces, nor the registry's owner locks", async () => {
    const elsewhere = await connect({ namespace: `${backend.namespace}-other` });
    const held = await holdLock("res", {}, elsewhere.locks);
    await backend.registry("r").reserve({ id: "one" });
    // The registry's owner lock is an interlock lock too, recorded after a few ms.
    await until(
      async () =>
        (
          await sql(
            pgUrl(),
            "SELECT 1 FROM interlock.holders WHERE client = $1 AND name = 'registry owner'",
            [locks.clientId],
          )
        ).length === 1 || undefined,
      "the owner lock's record",
    );
    expect(await locks.query()).toEqual({ held: [], pending: [] });
    held.release();
    await held.done;
  });

  it("shows an acquireLock hold of this namespace once its record is written", async () => {
    const other = await connect();
    const handle = await other.acquireLock("plain", { holder: { purpose: "plain" } });
    const snap = await until(async () => {
      const s = await locks.query();
      return s.held.length === 1 ? s : undefined;
    }, "the recorded acquireLock hold");
    expect(snap.held[0]).toMatchObject({
      name: "plain",
      mode: "exclusive",
      clientId: other.locks.clientId,
      holder: { purpose: "plain" },
    });
    await handle.release();
  });

  it("orders held locks by grant time", async () => {
    const a = await holdLock("a");
    const b = await holdLock("b");
    const c = await holdLock("c");
    expect((await locks.query()).held.map((h) => h.name)).toEqual(["a", "b", "c"]);
    const other = await connect();
    expect((await other.locks.query()).held.map((h) => h.name)).toEqual(["a", "b", "c"]);
    for (const h of [a, b, c]) h.release();
    await Promise.all([a.done, b.done, c.done]);
  });
});
