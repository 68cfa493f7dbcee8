// LockManager.request against the file lock it is built on (target: the uncontended
// exclusive round trip within 1.2× of acquireFileLock + release with the same callback),
// and against Node's own in-process navigator.locks where this Node has it (reported,
// no target: it never touches the file system, and never leaves the process).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acquireFileLock, LockManager } from "interlock";
import { compare, printTable, type Row } from "./lib.js";
import { median } from "./loop.js";

interface WebLocks {
  request(name: string, cb: () => Promise<void>): Promise<void>;
}

const work = async (): Promise<void> => {};

const quick = process.env.BENCH_QUICK === "1";

/**
 * Runs the contenders in alternating batches for several rounds; returns each one's
 * median ops/s and the median over rounds of (first's time ÷ second's time).
 */
async function interleaved(
  contenders: { name: string; fn: () => Promise<unknown> }[],
): Promise<{ rows: Row[]; ratio: number }> {
  const batch = 500;
  const rounds = quick ? 10 : 40;
  const samples = contenders.map(() => [] as number[]);
  const ratios: number[] = [];
  for (const c of contenders) for (let i = 0; i < batch; i++) await c.fn(); // warm-up
  for (let r = 0; r < rounds; r++) {
    const perOp: number[] = [];
    for (const [i, c] of contenders.entries()) {
      const start = performance.now();
      for (let k = 0; k < batch; k++) await c.fn();
      const ms = (performance.now() - start) / batch;
      samples[i]!.push(1000 / ms);
      perOp.push(ms);
    }
    ratios.push(perOp[0]! / perOp[1]!);
  }
  return {
    rows: contenders.map((c, i) => ({ name: c.name, opsPerSec: median(samples[i]!) })),
    ratio: median(ratios),
  };
}

export default async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "interlock-bench-"));
  try {
    const locks = new LockManager({ dir: join(dir, "locks") });
    const bare = join(dir, "bare.lock");
    const webLocks = (globalThis as { navigator?: { locks?: WebLocks } }).navigator?.locks;
    const exclusive = [
      {
        name: "interlock LockManager.request",
        fn: () => locks.request("deploy", work),
      },
      {
        name: "interlock acquireFileLock + release (floor)",
        fn: async () => {
          const lock = await acquireFileLock(bare);
          try {
            await work();
          } finally {
            await lock.release();
          }
        },
      },
    ];
    if (webLocks !== undefined) {
      exclusive.push({
        name: "Node navigator.locks.request (in-process only)",
        fn: () => webLocks.request("deploy", work),
      });
    }
    // Interleaved batches, not one contender after the other: on a shared machine the
    // load drifts within seconds, and the ratio is what this suite is for.
    const { rows, ratio } = await interleaved(exclusive);
    printTable(
      "uncontended exclusive request round trip (one process; median of interleaved batches)",
      rows,
    );
    console.log(
      `\nrequest ÷ acquireFileLock + release, median of per-round ratios: ${ratio.toFixed(2)}× the time (target ≤ 1.20×): ${ratio <= 1.2 ? "met" : "MISSED"}`,
    );
    if (webLocks === undefined) {
      console.log(
        `Node ${process.version} has no navigator.locks (newer Node versions ship it, in-process only): not compared.`,
      );
    }

    await compare("uncontended shared request round trip (writes a registry entry)", [
      {
        name: "interlock LockManager.request shared",
        fn: () => locks.request("index", { mode: "shared" }, work),
      },
      {
        name: "interlock acquireFileLock shared + release",
        fn: async () => {
          const lock = await acquireFileLock(bare, { mode: "shared" });
          try {
            await work();
          } finally {
            await lock.release();
          }
        },
      },
    ]);

    // query() lists the directory and probes every lock file: its cost grows with the
    // number of names ever used there.
    for (let i = 0; i < 100; i++) await locks.request(`name-${i}`, work);
    await compare("query() over 100 lock files, nothing held", [
      { name: "interlock LockManager.query", fn: () => locks.query() },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
