import { afterEach, describe, expect, it } from "vitest";
import { connectPostgres, PostgresConnectionError } from "../../src/postgres/index.js";
import { advisoryKey } from "../../src/postgres/keys.js";
import { SCHEMA_VERSION } from "../../src/postgres/schema.js";
import { sql } from "./cluster.js";
import { type FakePooler, startFakePooler } from "./fake-pooler.js";
import { freshNamespace, pgUrl, recordedHolder, useBackends } from "./helpers.js";

const connect = useBackends();
const poolers: FakePooler[] = [];
afterEach(async () => {
  await Promise.all(poolers.splice(0).map((p) => p.close()));
});

function target(): { host: string; port: number; user: string; database: string } {
  const u = new URL(pgUrl());
  return {
    host: u.hostname,
    port: Number(u.port),
    user: u.username,
    database: u.pathname.slice(1),
  };
}

describe("connectPostgres", () => {
  it("installs its schema once when many clients connect at the same time", async () => {
    const schema = `interlock_mig_${Math.random().toString(36).slice(2, 8)}`;
    const backends = await Promise.all(Array.from({ length: 8 }, () => connect({ schema })));
    const version = (
      await sql<{ version: number }>(pgUrl(), `SELECT version FROM "${schema}".meta`)
    )[0]!.version;
    expect(version).toBe(SCHEMA_VERSION);
    const lock = await backends[3]!.acquireLock("after-migration");
    await lock.release();
  });

  it("computes the same advisory key in JS and in SQL (lock_key), negative keys included", async () => {
    const b = await connect();
    for (const name of ["deploy", "é ünïcode", "x".repeat(300), ""]) {
      const k = (
        await sql<{ k: string }>(pgUrl(), "SELECT interlock.lock_key('lock', $1, $2)::text AS k", [
          b.namespace,
          name,
        ])
      )[0]!.k;
      expect(k).toBe(advisoryKey("lock", b.namespace, name));
    }
    // pg_locks splits a key into two unsigned halves; a negative key must still be found.
    let i = 0;
    while (BigInt(advisoryKey("lock", b.namespace, `neg-${i}`)) >= 0n) i++;
    const lock = await b.acquireLock(`neg-${i}`);
    expect(await recordedHolder(b, `neg-${i}`)).toMatchObject({ token: lock.token });
    await lock.release();
  });

  it("refuses a transaction-mode pooler with EPGPOOLER", async () => {
    const pooler = await startFakePooler(target(), "transaction");
    poolers.push(pooler);
    const err = await connectPostgres({
      connectionString: pooler.url,
      namespace: freshNamespace(),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(PostgresConnectionError);
    expect(err.code).toBe("EPGPOOLER");
    expect(err.message).toMatch(/transaction-mode pooler/);
  });

  it("accepts a session-mode pooler (its own BackendKeyData is not mistaken for one), and locks work through it", async () => {
    const pooler = await startFakePooler(target(), "session", 8);
    poolers.push(pooler);
    const b = await connect({ connectionString: pooler.url });
    const lock = await b.acquireLock("through-the-pooler");
    expect(await recordedHolder(b, "through-the-pooler")).toMatchObject({ token: lock.token });
    await lock.release();
  });

  it("validates its options synchronously", () => {
    expect(() => connectPostgres({} as never)).toThrow(/connectionString/);
    expect(() => connectPostgres({ connectionString: pgUrl(), leaseMs: 10 })).toThrow(RangeError);
    expect(() => connectPostgres({ connectionString: pgUrl(), schema: "Bad-Name" })).toThrow(
      TypeError,
    );
    expect(() => connectPostgres({ connectionString: pgUrl(), namespace: "" })).toThrow(TypeError);
    expect(() => connectPostgres({ connectionString: pgUrl(), poolSize: 0 })).toThrow(RangeError);
  });
});
