// Faults on real processes and a real server: the holder's connection is terminated, the
// holder process is paused past its lease, waiters give up. Each test asserts the
// invariant, and reports how long detection took (not asserted: timing).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgChild } from "./child.js";
import { freshNamespace, locksOf, pgUrl, terminate, until } from "./helpers.js";

const queued = (ns: string, name: string) => async () =>
  (await locksOf(ns, name)).some((r) => !r.granted) ? true : undefined;

describe("lost locks, across processes", () => {
  let a: PgChild;
  let b: PgChild;

  beforeAll(async () => {
    [a, b] = await Promise.all([PgChild.start(true), PgChild.start(true)]);
  });
  afterAll(async () => {
    await Promise.all([a.kill(), b.kill()]);
  });

  async function connectBoth(leaseMs?: number): Promise<string> {
    const namespace = freshNamespace();
    await Promise.all(
      [a, b].map((c) => c.request({ op: "connect", url: pgUrl(), namespace, leaseMs })),
    );
    a.lost.length = 0;
    b.lost.length = 0;
    return namespace;
  }

  it("pg_terminate_backend of the holder: its signal aborts (connection-ended), the next waiter gets the lock, release rejects", async () => {
    const ns = await connectBoth();
    const first = await a.request({ op: "acquire", name: "job" });
    const waiting = b.send({ op: "acquire", name: "job" });
    await until(queued(ns, "job"), "b to queue");
    const holderPid = (await locksOf(ns, "job")).find((r) => r.granted)!.pid;
    const t0 = Date.now();
    await terminate(holderPid);
    const loss = await a.nextLoss();
    expect(loss).toMatchObject({ lock: "job", reason: "connection-ended" });
    const second = await waiting;
    expect(second.ok).toBe(true);
    expect(second.token).toBeGreaterThan(first.token);
    console.log(`terminate → holder's signal aborted after ${loss.at - t0} ms`);
    const release = await a.send({ op: "release", name: "job" });
    expect(release).toMatchObject({ ok: false, code: "ELOCKLOST", reason: "connection-ended" });
    await b.request({ op: "release", name: "job" });
  });

  it("SIGSTOP of the holder: another client gets the lock after the lease; the paused holder's fenced write is refused", async () => {
    const leaseMs = 1_500;
    const ns = await connectBoth(leaseMs);
    const first = await a.request({ op: "acquire", name: "job" });
    await a.request({ op: "update", key: "work", fenceOf: "job", writer: "a" });
    const waiting = b.send({ op: "acquire", name: "job" });
    await until(queued(ns, "job"), "b to queue");
    a.proc.kill("SIGSTOP");
    const stoppedAt = Date.now();
    try {
      const second = await waiting;
      const tookMs = Date.now() - stoppedAt;
      expect(second.ok).toBe(true);
      expect(second.token).toBeGreaterThan(first.token);
      console.log(`holder paused → another client granted after ${tookMs} ms (leaseMs ${leaseMs})`);
      const newer = await b.request({ op: "update", key: "work", fenceOf: "job", writer: "b" });
      expect(newer.state).toEqual({ writer: "b", writes: 2 });
    } finally {
      a.proc.kill("SIGCONT");
    }
    // Back from the pause, the old holder knows it lost the lock before it writes...
    const status = await a.request({ op: "status", name: "job" });
    expect(status.aborted).toBe(true);
    expect(["lease-expired", "connection-ended"]).toContain(status.assertHeld);
    // ...and a write it sends anyway with its old token is refused.
    const stale = await a.send({ op: "update", key: "work", fenceOf: "job", writer: "a-late" });
    expect(stale).toMatchObject({ ok: false, code: "ESTALEFENCE" });
    const release = await a.send({ op: "release", name: "job" });
    expect(release).toMatchObject({ ok: false, code: "ELOCKLOST" });
    await b.request({ op: "release", name: "job" });
  });

  it("a waiter that times out or aborts while queued is never granted and leaves no waiter on the server", async () => {
    const ns = await connectBoth();
    await a.request({ op: "acquire", name: "busy" });
    const timedOut = await b.send({ op: "acquire", name: "busy", timeoutMs: 300 });
    expect(timedOut).toMatchObject({ ok: false, code: "ELOCKTIMEOUT" });
    expect(timedOut.message).toContain(`pid ${a.pid}`);
    const aborted = await b.send({ op: "acquireAbortAfter", name: "busy", ms: 300 });
    expect(aborted).toMatchObject({ ok: false, name: "AbortError" });
    expect(await locksOf(ns, "busy")).toEqual([expect.objectContaining({ granted: true })]);
    await a.request({ op: "release", name: "busy" });
    await b.request({ op: "acquire", name: "busy", timeoutMs: 5_000 });
    await b.request({ op: "release", name: "busy" });
  });
});
