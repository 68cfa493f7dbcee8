// Cross-process file locks, through the built package ("interlock", as users install
// it): interlock against proper-lockfile, lockfile, and raw fs-ext (the floors: what
// flock costs with nothing around it).
import { fork } from "node:child_process";
import { once } from "node:events";
import {
  closeSync,
  constants,
  futimesSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { acquireFileLock } from "interlock";
import { fmt, printTable, type Row, timeChildren } from "./lib.js";
import { loopMeanUs, median, percentile } from "./loop.js";

const require = createRequire(import.meta.url);
const fsx = require("fs-ext") as typeof import("fs-ext");
const lockfile = require("lockfile") as typeof import("lockfile");
const properLockfile = require("proper-lockfile") as typeof import("proper-lockfile");

const quick = process.env.BENCH_QUICK === "1";
const PROCESSES = 4;
const INCREMENTS = 200;
const ROUNDS = quick ? 1 : 3;
const CONTENDERS = ["interlock", "fs-ext", "fs-ext-fd", "lockfile", "proper-lockfile"] as const;

/** Rows of µs per operation, printed as ops/s so that higher is better like the others. */
function perSecond(name: string, us: number): Row {
  return { name, opsPerSec: 1e6 / us };
}

async function uncontended(dir: string): Promise<void> {
  const p = (name: string) => join(dir, name);
  writeFileSync(p("pl-target"), "");
  writeFileSync(p("raw.lock"), "");
  const lfLock = promisify(lockfile.lock) as (path: string, o: object) => Promise<void>;
  const lfUnlock = promisify(lockfile.unlock);
  const held = openSync(p("held.lock"), "a");
  const five = openSync(p("five.lock"), constants.O_RDWR | constants.O_CREAT, 0o666);
  let fiveToken = 0;
  const heldAsync = openSync(p("held-async.lock"), "a");
  const flock = (fd: number, flags: "ex" | "un"): Promise<void> =>
    new Promise((resolve, reject) => fsx.flock(fd, flags, (e) => (e ? reject(e) : resolve())));
  const contenders: [string, () => unknown, number][] = [
    [
      "interlock acquireFileLock + release",
      async () => (await acquireFileLock(p("ours.lock"))).release(),
      20_000,
    ],
    [
      "fs-ext openSync + flockSync + closeSync (the sync floor)",
      () => {
        const fd = openSync(p("raw.lock"), "r+");
        fsx.flockSync(fd, "ex");
        closeSync(fd);
      },
      20_000,
    ],
    [
      // What the fast path must do for its guarantees (lock; check the path still names
      // the file; write the token and holder; mark the record released; unlock), with no
      // JavaScript around it: the floor of this design, to read interlock's row against.
      "the same 5 syscalls, bare (flock, lstat, pwrite, futimes, unlock)",
      () => {
        fsx.flockSync(five, "exnb");
        lstatSync(p("five.lock"));
        writeSync(
          five,
          `{"token":${++fiveToken},"pid":${process.pid},"acquiredAt":${Date.now()}}\n`,
          0,
        );
        futimesSync(five, 1, 1);
        fsx.flockSync(five, "un");
      },
      20_000,
    ],
    [
      "fs-ext flockSync on a kept descriptor",
      () => {
        fsx.flockSync(held, "ex");
        fsx.flockSync(held, "un");
      },
      50_000,
    ],
    [
      "fs-ext async flock on a kept descriptor (thread pool)",
      async () => {
        await flock(heldAsync, "ex");
        await flock(heldAsync, "un");
      },
      10_000,
    ],
    [
      "lockfile lock() + unlock()",
      async () => {
        await lfLock(p("lockfile.lock"), {});
        await lfUnlock(p("lockfile.lock"));
      },
      5_000,
    ],
    [
      "proper-lockfile lock() + release()",
      async () => (await properLockfile.lock(p("pl-target"), { realpath: false }))(),
      2_000,
    ],
  ];
  // Rounds interleave the contenders so that machine noise hits them all alike.
  const rounds = quick ? 1 : 5;
  const samples = contenders.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, [, fn, n]] of contenders.entries()) {
      samples[i]!.push(await loopMeanUs(fn, quick ? Math.ceil(n / 10) : n));
    }
  }
  closeSync(held);
  closeSync(heldAsync);
  closeSync(five);
  const rows = contenders.map(([name], i) => perSecond(name, median(samples[i]!)));
  printTable(
    `uncontended acquire + release, one process (back-to-back loop, median of ${rounds} rounds)`,
    rows,
  );
  const us = rows.map((r) => 1e6 / r.opsPerSec);
  console.log(
    `interlock: ${us[0]!.toFixed(1)} µs = ${(us[0]! / us[1]!).toFixed(2)}× the sync floor (${us[1]!.toFixed(1)} µs); ` +
      `its 5 syscalls bare: ${(us[2]! / us[1]!).toFixed(2)}× the floor; ` +
      `${(us[5]! / us[0]!).toFixed(1)}× faster than lockfile, ${(us[6]! / us[0]!).toFixed(1)}× faster than proper-lockfile`,
  );
}

function handoffFixture(strategy: string, lockPath: string, mode: string, rounds = 0) {
  return fork(
    new URL("./fixtures/file-lock-handoff.ts", import.meta.url),
    [strategy, lockPath, mode, String(rounds)],
    { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
}

const message = async (c: ReturnType<typeof fork>) => ((await once(c, "message")) as [any])[0];

/**
 * Hand-off under contention: PROCESSES processes take the lock in a loop (hold ~50 µs,
 * release, take it again). A hand-off is a grant to another process than the one that
 * just released: its latency is that grant's time minus the release's.
 */
async function contendedHandoff(dir: string, strategy: string): Promise<number[]> {
  const lockPath = join(dir, `handoff-${strategy}.lock`);
  const rounds = quick ? 100 : 400;
  const children = Array.from({ length: PROCESSES }, () =>
    handoffFixture(strategy, lockPath, "loop", rounds),
  );
  await Promise.all(children.map(message));
  const done = children.map(message);
  for (const c of children) c.send("go");
  const timelines = (await Promise.all(done)).map((m) => m.pairs as [number, number][]);
  const holds = timelines
    .flatMap((pairs, who) => pairs.map(([granted, released]) => ({ who, granted, released })))
    .sort((a, b) => a.granted - b.granted);
  const latencies: number[] = [];
  for (let i = 1; i < holds.length; i++) {
    if (holds[i]!.who !== holds[i - 1]!.who)
      latencies.push(holds[i]!.granted - holds[i - 1]!.released);
  }
  return latencies;
}

/** A waiter that has waited `waitMs`: how long after the release is it granted? */
async function longWaitHandoff(dir: string, strategy: string, waitMs: number): Promise<number[]> {
  const lockPath = join(dir, `long-${strategy}.lock`);
  const holder = handoffFixture(strategy, lockPath, "pair");
  const waiter = handoffFixture(strategy, lockPath, "pair");
  try {
    await Promise.all([message(holder), message(waiter)]);
    const latencies: number[] = [];
    for (let i = 0; i < (quick ? 1 : 3); i++) {
      holder.send("acquire");
      await message(holder);
      waiter.send("wait");
      await message(waiter);
      await new Promise((r) => setTimeout(r, waitMs));
      const granted = message(waiter);
      holder.send("release");
      const released = (await message(holder)).at as number;
      latencies.push((await granted).at - released);
    }
    return latencies;
  } finally {
    holder.kill();
    waiter.kill();
  }
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

const LABELS: Record<string, string> = {
  interlock: "interlock",
  "fs-ext": "fs-ext open+flock+close (blocking, thread pool)",
  "fs-ext-fd": "fs-ext flock on a kept descriptor (blocking, thread pool)",
  lockfile: "lockfile",
  "proper-lockfile": "proper-lockfile",
};

export default async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "interlock-bench-"));
  try {
    await uncontended(dir);

    const handoffs: Row[] = [];
    const lines: string[] = [];
    for (const strategy of ["interlock", "fs-ext"]) {
      const lat = await contendedHandoff(dir, strategy);
      const p50 = percentile(lat, 50);
      const p99 = percentile(lat, 99);
      const long = median(await longWaitHandoff(dir, strategy, 1_000));
      const label =
        strategy === "interlock" ? "interlock (wake-up by fs.watch)" : LABELS["fs-ext-fd"]!;
      handoffs.push({ name: `${label}: p50`, opsPerSec: 1000 / p50 });
      handoffs.push({ name: `${label}: p99`, opsPerSec: 1000 / p99 });
      handoffs.push({ name: `${label}: after a 1 s wait`, opsPerSec: 1000 / long });
      lines.push(
        `${label}: p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms over ${lat.length} hand-offs; after a 1 s wait ${long.toFixed(3)} ms`,
      );
    }
    printTable(
      `hand-off latency to a waiting process, ${PROCESSES} processes (1000 / ms, higher is better)`,
      handoffs,
      "hand-offs/s",
    );
    for (const l of lines) console.log(l);

    // Interleave contenders round by round so machine noise hits them all alike, and
    // report each one's median round.
    const results = new Map<string, number[]>(CONTENDERS.map((c) => [c, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of CONTENDERS) results.get(c)!.push(await contended(dir, c, round));
    }
    const rows: Row[] = CONTENDERS.map((c) => ({
      name: LABELS[c]!,
      opsPerSec: median(results.get(c)!),
    }));
    printTable(
      `${PROCESSES} processes × ${INCREMENTS} locked read-modify-write increments (median of ${ROUNDS})`,
      rows,
      "increments/s",
    );
    console.log(`interlock: ${fmt(rows[0]!.opsPerSec)} increments/s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
