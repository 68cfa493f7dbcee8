// The PostgreSQL backend against the floor of what it is built on: a bare
// pg_advisory_lock/unlock pair on one connection (the target: acquire + release with a
// fencing token within 1.5× of it), a counter row updated per grant (the obvious way to
// get durable tokens), 8 contending processes (throughput and hand-off latency), and
// stateStore.update against a hand-written SELECT … FOR UPDATE transaction,
// backend.locks.request() against acquireLock + release; and redlock (4.2, on ioredis)
// against a local redis-server, the peer users pick instead (no fencing token, no
// lost-lock signal, no queue: waiters poll). The bench starts its own
// throwaway PostgreSQL (fsync on) through the test harness, and its own redis-server
// when one is installed (it says so when not).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { connectPostgres } from "interlock/postgres";
import pg from "pg";
import { freePort, startCluster } from "../test/postgres/cluster.js";
import { printTable, type Row, runChildren } from "./lib.js";

const quick = process.env.BENCH_QUICK === "1";
const PROCESSES = 8;
const CYCLES = quick ? 100 : 300;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!;

/**
 * Runs each contender `batch` times in turn, for `rounds` rounds, and reports each
 * contender's median batch latency and its median ratio to the first contender of the
 * same round: on a shared machine, load drifts between seconds, and a ratio taken from
 * adjacent batches cancels most of it.
 */
async function interleave(
  title: string,
  contenders: { name: string; fn: () => Promise<unknown> }[],
  { rounds = quick ? 15 : 60, batch = 50 } = {},
): Promise<{ name: string; us: number; ratio: number }[]> {
  for (const c of contenders) for (let i = 0; i < batch; i++) await c.fn(); // warm-up
  const us: number[][] = contenders.map(() => []);
  const ratios: number[][] = contenders.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const t = contenders.map(() => 0);
    for (const [i, c] of contenders.entries()) {
      const t0 = performance.now();
      for (let k = 0; k < batch; k++) await c.fn();
      t[i] = ((performance.now() - t0) / batch) * 1000;
      us[i]!.push(t[i]!);
    }
    for (const i of t.keys()) ratios[i]!.push(t[i]! / t[0]!);
  }
  const rows = contenders.map((c, i) => ({
    name: c.name,
    us: median(us[i]!),
    ratio: median(ratios[i]!),
  }));
  printTable(
    title,
    rows.map((row) => ({ name: row.name, opsPerSec: 1e6 / row.us })),
    "ops/s",
  );
  return rows;
}

const require = createRequire(import.meta.url);

/** A throwaway redis-server on a free port, or undefined (said loudly) if none is installed. */
async function startRedis(): Promise<{ port: number; proc: ChildProcess } | undefined> {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
  } catch {
    console.log(
      "\n(redlock peer skipped: no redis-server on PATH; `apt-get install redis-server`)",
    );
    return undefined;
  }
  const port = await freePort();
  const proc = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`redis-server exited (${code})`)));
    proc.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("Ready to accept connections")) resolve();
    });
  });
  return { port, proc };
}

async function uncontended(url: string, redisPort: number | undefined): Promise<void> {
  const backend = await connectPostgres({ connectionString: url, namespace: "bench" });
  const raw = new pg.Client({ connectionString: url });
  raw.on("error", () => {});
  await raw.connect();
  await raw.query(
    "CREATE SCHEMA IF NOT EXISTS bench; CREATE TABLE IF NOT EXISTS bench.fence (k bigint PRIMARY KEY, token bigint NOT NULL); INSERT INTO bench.fence VALUES (1, 0) ON CONFLICT DO NOTHING",
  );
  const lockRows = await interleave("uncontended acquire + release, one client (exclusive)", [
    {
      name: "interlock acquireLock + release (with fencing token)",
      fn: async () => {
        const lock = await backend.acquireLock("uncontended");
        await lock.release();
      },
    },
    {
      name: "raw pg_advisory_lock + unlock, one connection (floor)",
      fn: async () => {
        await raw.query("SELECT pg_advisory_lock($1)", ["77"]);
        await raw.query("SELECT pg_advisory_unlock($1)", ["77"]);
      },
    },
    {
      name: "raw pair as prepared statements (floor of the floor)",
      fn: async () => {
        await raw.query({ name: "l", text: "SELECT pg_advisory_lock($1::bigint)", values: ["76"] });
        await raw.query({
          name: "u",
          text: "SELECT pg_advisory_unlock($1::bigint)",
          values: ["76"],
        });
      },
    },
    {
      name: "raw lock + counter-row token (synchronous commit) + unlock",
      fn: async () => {
        await raw.query("SELECT pg_advisory_lock($1)", ["78"]);
        await raw.query("UPDATE bench.fence SET token = token + 1 WHERE k = 1 RETURNING token");
        await raw.query("SELECT pg_advisory_unlock($1)", ["78"]);
      },
    },
  ]);
  const [ours, floor, prepared, counter] = lockRows;
  if (redisPort !== undefined) {
    const Redis = require("ioredis");
    const Redlock = require("redlock");
    const redis = new Redis({ port: redisPort });
    const redlock = new Redlock([redis], { retryCount: 0 });
    await interleave("uncontended acquire + release, one client: interlock vs redlock", [
      {
        name: "interlock acquireLock + release (with fencing token)",
        fn: async () => {
          const lock = await backend.acquireLock("uncontended");
          await lock.release();
        },
      },
      {
        name: "redlock lock + unlock, one redis-server (no token)",
        fn: async () => {
          const lock = await redlock.lock("uncontended", 10_000);
          await lock.unlock();
        },
      },
    ]);
    redis.disconnect();
  }
  console.log(
    `\nacquire + release: ${ours!.us.toFixed(0)} µs, ${(1 / floor!.ratio).toFixed(2)}× the raw pair (${floor!.us.toFixed(0)} µs; target ≤ 1.5×), ` +
      `${(1 / prepared!.ratio).toFixed(2)}× the prepared pair (${prepared!.us.toFixed(0)} µs); a counter-row token costs ${(1 / counter!.ratio).toFixed(2)}× (${counter!.us.toFixed(0)} µs)`,
  );
  await interleave("uncontended acquire + release, one client (shared)", [
    {
      name: "interlock acquireLock({mode: shared}) + release",
      fn: async () => {
        const lock = await backend.acquireLock("uncontended-s", { mode: "shared" });
        await lock.release();
      },
    },
    {
      name: "raw pg_advisory_lock_shared + unlock_shared (floor)",
      fn: async () => {
        await raw.query("SELECT pg_advisory_lock_shared($1)", ["79"]);
        await raw.query("SELECT pg_advisory_unlock_shared($1)", ["79"]);
      },
    },
  ]);

  // The Web Locks API on the same locks: what the LockManager adds to a bare cycle (its
  // queue bookkeeping; an uncontended request writes nothing more than acquireLock).
  const [lm, bare] = await interleave(
    "uncontended round trip, one client: backend.locks.request vs acquireLock + release",
    [
      {
        name: "interlock backend.locks.request(name, cb)",
        fn: () => backend.locks.request("uncontended-lm", () => {}),
      },
      {
        name: "interlock acquireLock + release",
        fn: async () => {
          const lock = await backend.acquireLock("uncontended-lm");
          await lock.release();
        },
      },
    ],
  );
  console.log(
    `\nlocks.request round trip: ${lm!.us.toFixed(0)} µs, ${(1 / bare!.ratio).toFixed(2)}× acquireLock + release (${bare!.us.toFixed(0)} µs; the file LockManager's target: ≤ 1.2×)`,
  );

  await raw.query(
    "CREATE TABLE IF NOT EXISTS bench.state (k text PRIMARY KEY, v jsonb NOT NULL); INSERT INTO bench.state VALUES ('n', '0') ON CONFLICT DO NOTHING",
  );
  const store = backend.stateStore("n", { defaults: 0 });
  await interleave(
    "read-modify-write of one JSON value, one client",
    [
      { name: "interlock stateStore.update(n => n + 1)", fn: () => store.update((n) => n + 1) },
      {
        name: "hand-written BEGIN; SELECT … FOR UPDATE; UPDATE; COMMIT",
        fn: async () => {
          await raw.query("BEGIN");
          const n = (await raw.query("SELECT v FROM bench.state WHERE k = 'n' FOR UPDATE")).rows[0]
            .v;
          await raw.query("UPDATE bench.state SET v = $1 WHERE k = 'n'", [JSON.stringify(n + 1)]);
          await raw.query("COMMIT");
        },
      },
    ],
    { rounds: quick ? 8 : 30, batch: 20 },
  );
  await raw.end();
  await backend.close();
}

type Variant = "interlock" | "rawtoken" | "raw" | "redlock";

/** 8 processes, CYCLES lock cycles each; returns [cycles/s, hand-off latencies in ms]. */
async function contended(
  url: string,
  variant: Variant,
  round: number,
): Promise<[number, number[]]> {
  const { ms, replies } = await runChildren(
    new URL("./fixtures/postgres-contend.ts", import.meta.url),
    [variant, url, `contend-${round}`, String(CYCLES)],
    PROCESSES,
  );
  const holds = (replies as { holds: [number, number][] }[])
    .flatMap((r) => r.holds)
    .sort((a, b) => a[0] - b[0]);
  const handoffs: number[] = [];
  for (let i = 1; i < holds.length; i++) handoffs.push(holds[i]![0] - holds[i - 1]![1]);
  return [(PROCESSES * CYCLES * 1000) / ms, handoffs];
}

export default async function run(): Promise<void> {
  const cluster = await startCluster();
  const redis = await startRedis();
  try {
    await uncontended(cluster.url, redis?.port);
    const rounds = quick ? 1 : 3;
    const variants: Variant[] = ["interlock", "rawtoken", "raw"];
    if (redis !== undefined) variants.push("redlock");
    const through: Record<Variant, number[]> = {
      interlock: [],
      rawtoken: [],
      raw: [],
      redlock: [],
    };
    const hand: Record<Variant, number[]> = { interlock: [], rawtoken: [], raw: [], redlock: [] };
    for (let round = 0; round < rounds; round++) {
      for (const v of variants) {
        const target = v === "redlock" ? String(redis!.port) : cluster.url;
        const [ops, handoffs] = await contended(target, v, round);
        through[v].push(ops);
        hand[v].push(...handoffs);
      }
    }
    const name: Record<Variant, string> = {
      interlock: "interlock acquireLock + release",
      rawtoken: "plain client sending interlock's statements (lock + token, unlock)",
      raw: "raw pg_advisory_lock + unlock (floor)",
      redlock: "redlock lock + unlock (retries every 5±5 ms)",
    };
    printTable(
      `${PROCESSES} processes contending for one lock, ${CYCLES} cycles each (median of ${rounds})`,
      variants.map((v): Row => ({ name: name[v], opsPerSec: median(through[v]) })),
      "grants/s",
    );
    printTable(
      `hand-off latency, release → next holder's grant, ${PROCESSES} processes (1000 / median ms)`,
      variants.map((v): Row => ({ name: name[v], opsPerSec: 1000 / median(hand[v]) })),
      "hand-offs/s",
    );
    for (const v of variants) {
      console.log(
        `${name[v]}: hand-off median ${median(hand[v]).toFixed(3)} ms, p99 ${p99(hand[v]).toFixed(3)} ms`,
      );
    }
  } finally {
    redis?.proc.kill();
    await cluster.stop();
  }
}
