import { constants, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFile as atomicallyWriteFile } from "atomically";
import { Writer as StenoWriter } from "steno";
import writeFileAtomicPeer from "write-file-atomic";
// From src/ (not the built package) so that the no-directory-fsync variant below can
// patch the same `io` the writer uses.
import { writeFileAtomic } from "../src/atomic/index.js";
import { io } from "../src/atomic/io.js";
import { type Contender, printTable, type Row, timeChildren } from "./lib.js";

const quick = process.env.BENCH_QUICK === "1";
const ROUNDS = quick ? 1 : 3;
const UPDATES = quick ? 100 : 300;
const TMPFS_MAGIC = 0x01021994;

// The dir fsync is what interlock pays for and its peers skip. To show that cost in
// the same run, one extra row runs interlock with directory fsyncs turned into no-ops
// through the internal I/O seam (never an option of the public API).
let skipDirFsync = false;
const dirFds = new Set<number>();
const { open: realOpen, fsync: realFsync } = io;
io.open = async (path, flags, mode) => {
  const fd = await realOpen(path, flags, mode);
  if (flags & constants.O_DIRECTORY) dirFds.add(fd);
  else dirFds.delete(fd);
  return fd;
};
io.fsync = (fd) => (skipDirFsync && dirFds.has(fd) ? Promise.resolve() : realFsync(fd));

/**
 * Like `compare()` (sequential samples per contender, median), but in ROUNDS rounds
 * with the contenders' order rotated each round: a disk's fsync cost drifts over a run,
 * and whoever always goes first would otherwise always get the coldest or the warmest
 * disk. Returns each contender's median over all its samples.
 */
async function rotated(title: string, contenders: Contender[], msPerRound: number) {
  const samples = contenders.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (k + round) % contenders.length;
      const c = contenders[i]!;
      for (let w = 0; w < 10; w++) await c.fn(); // warm-up
      const end = performance.now() + msPerRound;
      while (performance.now() < end) {
        const t = performance.now();
        await c.fn();
        samples[i]!.push(performance.now() - t);
      }
    }
  }
  const rows: Row[] = contenders.map((c, i) => {
    const s = samples[i]!.sort((a, b) => a - b);
    return { name: c.name, opsPerSec: 1000 / s[s.length >> 1]! };
  });
  printTable(title, rows, "writes/s");
}

async function writes(dir: string): Promise<void> {
  for (const [label, size] of [
    ["1 KiB", 1024],
    ["1 MiB", 1 << 20],
  ] as const) {
    const data = Buffer.alloc(size, "x");
    const file = (name: string) => {
      const p = join(dir, `${name}-${size}`);
      // Every contender replaces an existing file, the common case for state and config.
      writeFileSync(p, data);
      return p;
    };
    const ours = file("interlock");
    const oursNoDir = file("interlock-nodir");
    const wfa = file("write-file-atomic");
    const atom = file("atomically");
    const steno = new StenoWriter(file("steno"));
    const plain = file("writeFile");
    await rotated(
      `atomic write of ${label} over an existing file, fsync on (median, ${ROUNDS} rounds, order rotated)`,
      [
        {
          name: "interlock writeFileAtomic (file + directory fsync)",
          fn: () => writeFileAtomic(ours, data),
        },
        { name: "write-file-atomic 7 (file fsync only)", fn: () => writeFileAtomicPeer(wfa, data) },
        { name: "atomically 2 (file fsync only)", fn: () => atomicallyWriteFile(atom, data) },
        {
          name: "[for comparison] interlock with the directory fsync skipped",
          fn: async () => {
            skipDirFsync = true;
            try {
              await writeFileAtomic(oursNoDir, data);
            } finally {
              skipDirFsync = false;
            }
          },
        },
        // steno has no fsync at all: listed to show what durability costs, not as a peer.
        {
          name: "[not durable] steno 4 (never fsyncs)",
          fn: () => steno.write(data as unknown as string),
        },
        {
          name: "[not atomic] fs.promises writeFile + sync",
          fn: async () => {
            const h = await fsp.open(plain, "w");
            try {
              await h.writeFile(data);
              await h.sync();
            } finally {
              await h.close();
            }
          },
        },
      ],
      quick ? 300 : size > 4096 ? 1_500 : 1_000,
    );
  }
}

/** `processes` children doing UPDATES updates each of one state file; updates/s in total. */
async function updates(dir: string, contender: string, processes: number, round: number) {
  const path = join(dir, `state-${contender}-${processes}-${round}.json`);
  const fixture = new URL("./fixtures/atomic-state-update.ts", import.meta.url);
  const ms = await timeChildren(fixture, [contender, path, String(UPDATES)], processes);
  const n = (JSON.parse(readFileSync(path, "utf8")) as { n: number }).n;
  if (n !== processes * UPDATES) {
    throw new Error(`${contender}: state says ${n} updates, expected ${processes * UPDATES}`);
  }
  return (processes * UPDATES * 1000) / ms;
}

export default async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "interlock-bench-"));
  try {
    // fsync on tmpfs is free, which would make every contender look the same.
    if (statfsSync(dir).type === TMPFS_MAGIC) {
      console.log(
        `\n> warning: ${dir} is on tmpfs; fsync costs nothing there. Set TMPDIR to a disk.`,
      );
    }
    await writes(dir);
    const contenders = ["interlock", "proper-lockfile + write-file-atomic"] as const;
    for (const processes of [1, 4]) {
      // Contenders interleaved round by round so machine noise hits both alike.
      const results = new Map<string, number[]>(contenders.map((c) => [c, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of contenders) results.get(c)!.push(await updates(dir, c, processes, round));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const rows: Row[] = contenders.map((c) => ({
        name: c === "interlock" ? "interlock StateFile.update" : c,
        opsPerSec: median(results.get(c)!),
      }));
      printTable(
        `state file read-modify-write, ${processes} process${processes > 1 ? "es" : ""} × ${UPDATES} updates, fsync on (updates/s in total, median of ${ROUNDS})`,
        rows,
        "updates/s",
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
