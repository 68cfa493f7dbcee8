// Compare-and-swap ref updates: what advanceRef costs per landed commit against the raw
// `git update-ref <ref> <new> <old>` spawn (the floor: one git process, nothing around
// it) and the unsafe unconditional `git update-ref <ref> <new>`; then 8 processes
// writing checkpoints on one ref, where only advanceRef lands them all.
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { advanceRef } from "interlock";
import { compare, printTable, type Row, timeChildren } from "./lib.js";

const quick = process.env.BENCH_QUICK === "1";
const PROCESSES = 8;
const CHECKPOINTS = quick ? 4 : 8;
const ROUNDS = quick ? 1 : 3;
const ref = "refs/heads/agent/checkpoints";
const env = { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };
process.env.GIT_CONFIG_GLOBAL = "/dev/null";
process.env.GIT_CONFIG_NOSYSTEM = "1";
const run = promisify(execFile);
const gitSync = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
    cwd,
    env,
    encoding: "utf8",
  }).trim();
const git = (cwd: string, ...args: string[]) => run("git", args, { cwd, env });

function repo(dir: string, name: string): { cwd: string; a: string; b: string; tree: string } {
  const cwd = join(dir, name);
  mkdirSync(cwd);
  gitSync(cwd, "init", "-q");
  const tree = gitSync(cwd, "hash-object", "-w", "-t", "tree", "/dev/null");
  const a = gitSync(cwd, "commit-tree", tree, "-m", "a");
  const b = gitSync(cwd, "commit-tree", tree, "-p", a, "-m", "b");
  gitSync(cwd, "update-ref", ref, a);
  return { cwd, a, b, tree };
}

/**
 * One process, no contention. The ref flips between two existing commits, so `build`
 * costs nothing and each row is the price of moving a ref once.
 */
async function uncontended(dir: string): Promise<void> {
  const ours = repo(dir, "ours");
  const floor = repo(dir, "floor");
  const unsafe = repo(dir, "unsafe");
  let floorTip = floor.a;
  let unsafeTip = unsafe.a;
  await compare("moving a ref once, uncontended (one process)", [
    {
      name: "interlock advanceRef (lock + read + CAS)",
      fn: () => advanceRef({ cwd: ours.cwd, ref }, (tip) => (tip === ours.a ? ours.b : ours.a)),
    },
    {
      name: "git update-ref <ref> <new> <old> (floor)",
      fn: async () => {
        const next = floorTip === floor.a ? floor.b : floor.a;
        await git(floor.cwd, "update-ref", ref, next, floorTip);
        floorTip = next;
      },
    },
    {
      name: "git update-ref <ref> <new> (unsafe, unconditional)",
      fn: async () => {
        unsafeTip = unsafeTip === unsafe.a ? unsafe.b : unsafe.a;
        await git(unsafe.cwd, "update-ref", ref, unsafeTip);
      },
    },
  ]);
}

/** PROCESSES sessions × CHECKPOINTS commits each; returns landed commits/s and how many were lost. */
async function contended(dir: string, contender: string, round: number) {
  const r = repo(dir, `${contender}-${round}`);
  const fixture = new URL("./fixtures/git-checkpoint.ts", import.meta.url);
  const ms = await timeChildren(
    fixture,
    [contender, r.cwd, ref, String(CHECKPOINTS), r.tree],
    PROCESSES,
  );
  // The chain from the tip back to the starting commit `a`.
  const landed = Number(gitSync(r.cwd, "rev-list", "--count", `${r.a}..${ref}`));
  const total = PROCESSES * CHECKPOINTS;
  if (contender === "interlock" && landed !== total) {
    throw new Error(`advanceRef landed ${landed} of ${total} commits`);
  }
  return { perSec: (landed * 1000) / ms, lost: total - landed };
}

export default async function runBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "interlock-bench-git-"));
  try {
    await uncontended(dir);
    const results = new Map<string, { perSec: number; lost: number }[]>([
      ["interlock", []],
      ["unsafe", []],
    ]);
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of results.keys()) results.get(c)!.push(await contended(dir, c, round));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const total = PROCESSES * CHECKPOINTS;
    const rows: Row[] = [...results].map(([c, rs]) => ({
      name:
        c === "interlock"
          ? `interlock advanceRef (lost ${rs.map((r) => r.lost).join(", ")} of ${total})`
          : `unsafe rev-parse + commit-tree + unconditional update-ref (lost ${rs.map((r) => r.lost).join(", ")} of ${total})`,
      opsPerSec: median(rs.map((r) => r.perSec)),
    }));
    printTable(
      `${PROCESSES} processes × ${CHECKPOINTS} checkpoints (commit-tree + ref update) on one ref, median of ${ROUNDS}`,
      rows,
      "landed commits/s",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
