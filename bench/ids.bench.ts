// FileRegistry round trips (reserve + commit) per second, in 1 and 4 processes, against
// the floor: one StateFile.update appending the same entry to the same kind of file. A
// round trip is two short lock sections, so about 2× the floor is the cost of never
// holding the lock through provisioning; the target is at most 2.5×.
import { mkdtempSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { printTable, type Row, timeChildren } from "./lib.js";

const quick = process.env.BENCH_QUICK === "1";
const ROUNDS = quick ? 1 : 3;
const OPS = quick ? 40 : 120; // per process
const TMPFS_MAGIC = 0x01021994;

const contenders = ["registry", "floor"] as const;
const names: Record<(typeof contenders)[number], string> = {
  registry: "interlock FileRegistry reserve + commit",
  floor: "StateFile.update of the same entry (the floor)",
};

async function opsPerSecond(
  dir: string,
  contender: string,
  processes: number,
  round: number,
): Promise<number> {
  const path = join(dir, `${contender}-${processes}-${round}.json`);
  const fixture = new URL("./fixtures/ids-reserve.ts", import.meta.url);
  const ms = await timeChildren(fixture, [contender, path, String(OPS)], processes);
  const entries = (JSON.parse(readFileSync(path, "utf8")) as { entries: unknown[] }).entries;
  if (entries.length !== processes * OPS) {
    throw new Error(`${contender}: ${entries.length} entries, expected ${processes * OPS}`);
  }
  return (processes * OPS * 1000) / ms;
}

export default async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "interlock-bench-"));
  try {
    if (statfsSync(dir).type === TMPFS_MAGIC) {
      console.log(`\n> warning: ${dir} is on tmpfs; fsync costs nothing there.`);
    }
    for (const processes of [1, 4]) {
      // Contenders interleaved round by round so machine noise hits both alike.
      const results = new Map<string, number[]>(contenders.map((c) => [c, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of contenders) {
          results.get(c)!.push(await opsPerSecond(dir, c, processes, round));
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const rows: Row[] = contenders.map((c) => ({
        name: names[c],
        opsPerSec: median(results.get(c)!),
      }));
      printTable(
        `registry round trips, ${processes} process${processes > 1 ? "es" : ""} × ${OPS}, fsync on (ops/s in total, median of ${ROUNDS}); ratio < 1 means slower than the floor, 0.4 = 2.5×`,
        rows,
        "ops/s",
      );
      const ratio = rows[1]!.opsPerSec / rows[0]!.opsPerSec;
      console.log(`round trip costs ${ratio.toFixed(2)}× the floor (target ≤ 2.5×)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
