// The server crashes (`pg_ctl stop -m immediate`: no checkpoint, WAL replay on restart)
// while a process holds a lock and another waits: the holder's signal aborts, the
// waiter is rejected (never granted), and after the restart every token is above every
// token handed out before, although most grants wrote no WAL of their own (nextval logs
// once per 32 values). This file runs its own cluster: a crash would break the others.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPostgres, type PostgresBackend } from "../../src/postgres/index.js";
import { PgChild } from "./child.js";
import { type PgCluster, startCluster } from "./cluster.js";

const ROUNDS = process.env.INTERLOCK_STRESS === "1" ? 5 : 2;

describe("server crash and restart", () => {
  let cluster: PgCluster;

  beforeAll(async () => {
    cluster = await startCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it(`holders see the loss, waiters are not granted, tokens keep rising (${ROUNDS} crashes)`, async () => {
    const holder = await PgChild.start();
    let highest = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const namespace = `crash-${round}`;
      const local: PostgresBackend = await connectPostgres({
        connectionString: cluster.url,
        namespace,
      });
      try {
        // Grants that write no WAL of their own: the sequence is mid-way through a
        // logged batch of 32 when the server dies.
        for (let i = 0; i < 20 + round * 7; i++) {
          const lock = await local.acquireLock(`warm-${i % 3}`);
          expect(lock.token).toBeGreaterThan(highest);
          highest = lock.token;
          await lock.release();
        }
        await holder.request({ op: "connect", url: cluster.url, namespace });
        holder.lost.length = 0;
        const held = await holder.request({ op: "acquire", name: "job" });
        expect(held.token).toBeGreaterThan(highest);
        highest = held.token;
        const waiter = local.acquireLock("job").then(
          () => "granted",
          (err: Error) => err,
        );
        const inProcess = await local.acquireLock("other");
        highest = inProcess.token;
        const t0 = Date.now();
        await cluster.crash();
        const loss = await holder.nextLoss();
        expect(loss.reason).toBe("connection-ended");
        console.log(
          `crash ${round}: holder's signal aborted ${loss.at - t0} ms after pg_ctl stop was called`,
        );
        expect(await waiter).toBeInstanceOf(Error);
        await expect(inProcess.release()).rejects.toMatchObject({ code: "ELOCKLOST" });
        const release = await holder.send({ op: "release", name: "job" });
        expect(release).toMatchObject({ ok: false, code: "ELOCKLOST" });
        await cluster.start();
      } finally {
        await local.close();
      }
      const after = await connectPostgres({ connectionString: cluster.url, namespace });
      try {
        const lock = await after.acquireLock("job");
        expect(lock.token).toBeGreaterThan(highest);
        console.log(`crash ${round}: highest token before ${highest}, first after ${lock.token}`);
        highest = lock.token;
        await lock.release();
      } finally {
        await after.close();
      }
    }
  }, 120_000);
});
