import { describe, expect, it } from "vitest";
import { IdsExhaustedError, IdTakenError, ReservationLostError } from "../../src/postgres/index.js";
import { sql } from "./cluster.js";
import { pgAdminUrl, terminate, until, useBackends } from "./helpers.js";

const connect = useBackends();

describe("registry", () => {
  it("reserve → pending → commit → active; abort frees the id; list in reservation order", async () => {
    const b = await connect();
    const reg = b.registry<{ port: number }>("sessions");
    const web = await reg.reserve({ id: "web", data: { port: 1 } });
    expect(web.id).toBe("web");
    expect(web.slot).toBeUndefined();
    expect(await reg.get("web")).toMatchObject({ id: "web", status: "pending", data: { port: 1 } });
    const committed = await web.commit({ port: 8080 });
    expect(committed).toMatchObject({
      id: "web",
      status: "active",
      data: { port: 8080 },
      owner: { pid: process.pid },
    });
    expect(await web.commit()).toBe(committed); // second call: same promise's value
    const api = await reg.reserve({ base: "api" });
    expect(api.id).toBe("api");
    const api2 = await reg.reserve({ base: "api" });
    expect(api2.id).toBe("api-2");
    await api.abort();
    await api.abort(); // idempotent
    expect((await reg.list()).map((e) => [e.id, e.status])).toEqual([
      ["web", "active"],
      ["api-2", "pending"],
    ]);
    const again = await reg.reserve({ base: "api" });
    expect(again.id).toBe("api");
    await expect(api.commit()).rejects.toBeInstanceOf(ReservationLostError);
  });

  it("an explicit id held by a live owner is IdTakenError, across clients", async () => {
    const a = await connect();
    const c = await connect();
    const mine = await a.registry("r").reserve({ id: "x" });
    const err = await c
      .registry("r")
      .reserve({ id: "x" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(IdTakenError);
    expect(err).toMatchObject({ code: "EIDTAKEN", id: "x", status: "pending" });
    await mine.commit();
    await expect(c.registry("r").reserve({ id: "x" })).rejects.toMatchObject({ status: "active" });
    expect(await c.registry("r").release("x")).toBe(true);
    expect(await c.registry("r").release("x")).toBe(false);
    const theirs = await c.registry("r").reserve({ id: "x" });
    await theirs.commit();
  });

  it("slots: lowest free first, unique across racers, IdsExhaustedError when full", async () => {
    const a = await connect();
    const c = await connect();
    const racers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? a : c).registry("slots").reserve({ base: "w", slot: { min: 10, max: 15 } }),
      ),
    );
    expect(racers.map((e) => e.slot).sort()).toEqual([10, 11, 12, 13, 14, 15]);
    expect(new Set(racers.map((e) => e.id)).size).toBe(6);
    await expect(
      a.registry("slots").reserve({ slot: { min: 10, max: 15 } }),
    ).rejects.toBeInstanceOf(IdsExhaustedError);
    await racers.find((e) => e.slot === 12)!.abort();
    const refill = await a.registry("slots").reserve({ slot: { min: 10, max: 15 } });
    expect(refill.slot).toBe(12);
  });

  it("exactly one of 8 racers for one id wins", async () => {
    const backends = await Promise.all(Array.from({ length: 4 }, () => connect()));
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => backends[i % 4]!.registry("one").reserve({ id: "only" })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect(r.reason).toBeInstanceOf(IdTakenError);
    }
  });

  it("entries of an owner whose owner lock is gone are reclaimed; its commit then fails", async () => {
    const owner = await connect();
    const other = await connect();
    const entry = await owner.registry("wt").reserve({ id: "wt-1", slot: { min: 0, max: 0 } });
    expect((await other.registry("wt").get("wt-1"))?.status).toBe("pending");
    expect(await other.registry("wt").reclaim()).toEqual([]); // its owner is alive
    // End the owner's liveness session, as a crash or a partition would.
    const pids = await until(async () => {
      const rows = await sql<{ backend_pid: number }>(
        pgAdminUrl(),
        `SELECT h.backend_pid FROM interlock.holders h JOIN pg_locks l ON l.pid = h.backend_pid
          WHERE l.locktype = 'advisory' AND l.granted AND h.name = 'registry owner' AND h.pid = $1`,
        [process.pid],
      );
      return rows.length > 0 ? rows : undefined;
    }, "the owner lock's record");
    expect(pids).toHaveLength(1);
    await terminate(pids[0]!.backend_pid);
    // Another client may now take the id and the slot; the old handle is lost.
    const dropped = await until(async () => {
      const d = await other.registry("wt").reclaim();
      return d.length > 0 ? d : undefined;
    }, "reclaim");
    expect(dropped.map((e) => e.id)).toEqual(["wt-1"]);
    const taken = await other.registry("wt").reserve({ id: "wt-1", slot: { min: 0, max: 0 } });
    const err = await entry.commit().catch((e) => e);
    expect(err).toBeInstanceOf(ReservationLostError);
    expect(err.current).toMatchObject({ id: "wt-1", status: "pending" });
    await expect(entry.abort()).rejects.toBeInstanceOf(ReservationLostError);
    await taken.commit();
  });

  it("rejects bad arguments synchronously", async () => {
    const b = await connect();
    const reg = b.registry("bad");
    expect(() => reg.reserve({ id: "a", base: "b" })).toThrow(TypeError);
    expect(() => reg.reserve({ id: "" })).toThrow(TypeError);
    expect(() => reg.reserve({ slot: { min: 2, max: 1 } })).toThrow(RangeError);
    expect(() => reg.reserve({ data: new Map() as never })).toThrow(TypeError);
    expect(() => b.registry("")).toThrow(TypeError);
  });
});
