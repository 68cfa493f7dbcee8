// Cross-process file locks: interlock (flock through fs-ext, non-blocking polling)
// against proper-lockfile, lockfile, and raw fs-ext (the floor: what flock costs with
// nothing around it).
import { fork } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { acquireFileLock } from "../src/file-lock/index.js";
import { compare, printTable, type Row, timeChildren } from "./lib.js";

const require = createRequire(import.meta.url);
const fsx = require("fs-ext") as typeof import("fs-ext");
const lockfile = require("lockfile") as typeof import("lockfile");
const properLockfile = require("proper-lockfile") as typeof import("proper-lockfile");

const quick = process.env.BENCH_QUICK === "1";
const PROCESSES = 4;
const INCREMENTS = 200;
const ROUNDS = quick ? 1 : 3;
const CONTENDERS = ["interlock", "fs-ext", "lockfile", "proper-lockfile"] as const;

async function uncontended(dir: string): Promise<void> {
  const ours = join(dir, "ours.lock");
  const raw = join(dir, "raw.lock");
  const lf = join(dir, "lockfile.lock");
  const plTarget = join(dir, "pl-target");
  writeFileSync(plTarget, "");
  const lfLock = promisify(lockfile.lock) as (p: string, o: object) => Promise<void>;
  const lfUnlock = promisify(lockfile.unlock);
  const flock = (fd: number, flags: "ex"): Promise<void> =>
    new Promise((resolve, reject) =>
      fsx.flock(fd, flags, (err) => (err ? reject(err) : resolve())),
    );
  const held = openSync(join(dir, "held.lock"), "a");

  await compare("uncontended acquire + release (one process)", [
    {
      name: "interlock acquireFileLock",
      fn: async () => {
        const lock = await acquireFileLock(ours);
        await lock.release();
      },
    },
    {
      name: "proper-lockfile lock()",
      fn: async () => {
        const release = await properLockfile.lock(plTarget, { realpath: false });
        await release();
      },
    },
    {
      name: "lockfile lock()",
      fn: async () => {
        await lfLock(lf, {});
        await lfUnlock(lf);
      },
    },
    {
      name: "fs-ext async flock (open+flock+close)",
      fn: async () => {
        const fd = openSync(raw, "a");
        await flock(fd, "ex");
        closeSync(fd);
      },
    },
    {
      name: "fs-ext flockSync (open+flock+close)",
      fn: () => {
        const fd = openSync(raw, "a");
        fsx.flockSync(fd, "ex");
        closeSync(fd);
      },
    },
    {
      name: "fs-ext flockSync on an open fd",
      fn: () => {
        fsx.flockSync(held, "ex");
        fsx.flockSync(held, "un");
      },
    },
  ]);
  closeSync(held);
}

/** Runs PROCESSES children doing INCREMENTS locked increments each; returns increments/s. */
async function contended(dir: string, contender: string, round: number): Promise<number> {
  const lockPath = join(dir, `${contender}-${round}.lock`);
  const counterPath = join(dir, `${contender}-${round}.counter`);
  writeFileSync(counterPath, "0");
  const fixture = new URL("./fixtures/file-lock-increment.ts", import.meta.url);
  const ms = await timeChildren(
    fixture,
    [contender, lockPath, counterPath, String(INCREMENTS)],
    PROCESSES,
  );
  const total = Number(readFileSync(counterPath, "utf8").trim());
  if (total !== PROCESSES * INCREMENTS) {
    throw new Error(`${contender}: counter is ${total}, expected ${PROCESSES * INCREMENTS}`);
  }
  return (PROCESSES * INCREMENTS * 1000) / ms;
}

/**
 * Hand-off latency: another process holds the lock, we wait; it releases after a
 * random 0–20 ms. Latency = our grant time − its release time. Reported as hand-offs/s
 * (1000 / median latency in ms) so that, like the other tables, higher is better.
 */
async function handoff(dir: string, strategy: "interlock" | "fs-ext"): Promise<number> {
  const lockPath = join(dir, `handoff-${strategy}.lock`);
  const fixture = new URL("./fixtures/file-lock-handoff.ts", import.meta.url);
  const start = () =>
    fork(fixture, [strategy, lockPath], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
  const holder = start();
  const waiter = start();
  const next = async (c: ReturnType<typeof fork>) => ((await once(c, "message")) as [any])[0];
  try {
    await Promise.all([next(holder), next(waiter)]);
    const latencies: number[] = [];
    for (let i = 0; i < (quick ? 15 : 40); i++) {
      holder.send("acquire");
      await next(holder);
      waiter.send("wait");
      await next(waiter);
      await new Promise((r) => setTimeout(r, Math.random() * 20));
      const granted = next(waiter);
      holder.send("release");
      const released = (await next(holder)).at as number;
      latencies.push((await granted).at - released);
    }
    latencies.sort((a, b) => a - b);
    return 1000 / latencies[Math.floor(latencies.length / 2)]!;
  } finally {
    holder.kill();
    waiter.kill();
  }
}

export default async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "interlock-bench-"));
  try {
    await uncontended(dir);
    const handoffs: Row[] = [];
    for (const strategy of ["interlock", "fs-ext"] as const) {
      handoffs.push({
        name:
          strategy === "interlock"
            ? "interlock (non-blocking flock + backoff)"
            : "fs-ext blocking flock on the thread pool",
        opsPerSec: await handoff(dir, strategy),
      });
    }
    printTable(
      "hand-off latency to a waiting process (1000 / median ms; the wait strategy's price)",
      handoffs,
      "hand-offs/s",
    );
    // Interleave contenders round by round so machine noise hits them all alike, and
    // report each one's median round.
    const results = new Map<string, number[]>(CONTENDERS.map((c) => [c, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of CONTENDERS) results.get(c)!.push(await contended(dir, c, round));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const rows: Row[] = CONTENDERS.map((c) => ({
      name: c === "fs-ext" ? "fs-ext open+flock+close (floor)" : c,
      opsPerSec: median(results.get(c)!),
    }));
    printTable(
      `${PROCESSES} processes × ${INCREMENTS} locked read-modify-write increments (median of ${ROUNDS})`,
      rows,
      "increments/s",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
