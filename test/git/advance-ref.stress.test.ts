// The failure this capability exists for (CONTEXT.md §1): sessions × checkpoints on one
// shadow branch, each built on the tip it read. With advanceRef every checkpoint ends on
// one linear chain; with the unconditional update most are orphaned.
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture } from "../file-lock/helpers.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { git, initRepo, linearChain, type ObjectFormat } from "./helpers.js";

const stress = process.env.INTERLOCK_STRESS === "1";
const PROCESSES = 8;
const CHECKPOINTS = stress ? 8 : 4;
const RUNS = stress ? 10 : 1;
// Without the lock every round is a pile-up of retries: fewer sessions by default.
const CAS_PROCESSES = stress ? 8 : 4;
// SHA-256 repositories are covered by the unit tests; the full workload runs there too
// under INTERLOCK_STRESS=1.
const FORMATS: ObjectFormat[] = stress ? ["sha1", "sha256"] : ["sha1"];
const tempDir = useTempDir();
const ref = "refs/heads/agent/checkpoints";

type Variant = "advance" | "cas" | "unconditional";
interface Landed {
  oid: string;
  attempts: number;
}

// One set of session processes serves every test (starting 8 processes is most of the cost).
let sessions: ChildProcess[] = [];

async function reply(child: ChildProcess): Promise<any> {
  const [m] = (await once(child, "message")) as [any];
  if (m.error) throw new Error(`session failed: ${m.error}`);
  return m;
}

beforeAll(async () => {
  sessions = Array.from({ length: PROCESSES }, () =>
    fork(fixture("git-checkpoints.ts"), [], {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, LC_ALL: "C" },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  await Promise.all(sessions.map(reply));
}, 120_000);

afterAll(() => {
  for (const c of sessions) c.kill("SIGKILL");
});

/** `processes` sessions each write CHECKPOINTS checkpoints; returns the chain and what landed. */
async function workload(variant: Variant, format: ObjectFormat, processes = PROCESSES) {
  const repo = initRepo(tempDir(), format);
  const tree = git(repo, "hash-object", "-w", "-t", "tree", "/dev/null");
  const active = sessions.slice(0, processes);
  const landed: Landed[] = [];
  for (let n = 0; n < CHECKPOINTS; n++) {
    const send = (c: ChildProcess, i: number) =>
      c.send({ variant, repo, ref, tree, message: `p${i} c${n}` });
    if (variant === "advance") {
      // Free-running: the lock alone orders them.
      const done = active.map(reply);
      active.forEach(send);
      landed.push(...(await Promise.all(done)));
    } else {
      // Every session reads the tip, then every session writes.
      const read = active.map(reply);
      active.forEach(send);
      await Promise.all(read);
      const done = active.map(reply);
      for (const c of active) c.send("write");
      landed.push(...(await Promise.all(done)));
    }
  }
  return { chain: linearChain(repo, ref), landed };
}

const allMessages = (processes: number) =>
  Array.from({ length: processes }, (_, p) =>
    Array.from({ length: CHECKPOINTS }, (_, c) => `p${p} c${c}`),
  )
    .flat()
    .sort();

describe.each(FORMATS)(
  `${PROCESSES} processes × ${CHECKPOINTS} checkpoints on one ref (%s)`,
  (format) => {
    it(`advanceRef, ${RUNS} run(s): every checkpoint on one linear chain, none lost, none retried`, {
      timeout: stress ? 600_000 : 120_000,
    }, async () => {
      for (let run = 0; run < RUNS; run++) {
        const { chain, landed } = await workload("advance", format);
        expect(chain.map((c) => c.message).sort()).toEqual(allMessages(PROCESSES));
        expect(new Set(chain.map((c) => c.oid))).toEqual(new Set(landed.map((l) => l.oid)));
        // Nobody bypassed the lock, so no attempt lost.
        expect(landed.every((l) => l.attempts === 1)).toBe(true);
      }
    });
  },
);

describe(`sessions × ${CHECKPOINTS} checkpoints, all reading the tip before any writes`, () => {
  it(`advanceRef without the lock (compare-and-swap and retry alone, ${CAS_PROCESSES} processes, ${RUNS} run(s)): none lost`, {
    timeout: stress ? 600_000 : 120_000,
  }, async () => {
    for (let run = 0; run < RUNS; run++) {
      const { chain, landed } = await workload("cas", "sha1", CAS_PROCESSES);
      expect(chain.map((c) => c.message).sort()).toEqual(allMessages(CAS_PROCESSES));
      // In every round all sessions built on the same tip: one won, the others retried.
      expect(landed.filter((l) => l.attempts > 1)).toHaveLength((CAS_PROCESSES - 1) * CHECKPOINTS);
    }
  });

  it(`(control, ${PROCESSES} processes) the unconditional update loses checkpoints, so the tests above can fail`, {
    timeout: 120_000,
  }, async () => {
    const { chain } = await workload("unconditional", "sha1");
    const total = PROCESSES * CHECKPOINTS;
    console.log(
      `unconditional update-ref: ${total - chain.length} of ${total} checkpoints lost (${chain.length} on the chain)`,
    );
    // One survivor per round: everyone built on the same tip, the last writer won.
    expect(chain).toHaveLength(CHECKPOINTS);
  });
});
