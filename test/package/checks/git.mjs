// Package-tier check of compare-and-swap ref updates, through `import "interlock"`:
// several processes advanceRef one ref and every commit ends on one linear chain; a
// stale updateRef is refused with EREFCONFLICT. `node git.mjs <emptyScratchDir>`.
import { execFileSync, fork } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { advanceRef, RefConflictError, readRef, updateRef } from "interlock";

const PROCESSES = 3;
const CHECKPOINTS = 3;
const ref = "refs/heads/agent/checkpoints";
const env = { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };
const git = (cwd, ...args) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
    cwd,
    env,
    encoding: "utf8",
  }).trim();

if (process.argv[2] === "--child") {
  const [, , , repo, id] = process.argv;
  const tree = git(repo, "hash-object", "-t", "tree", "/dev/null");
  for (let n = 0; n < CHECKPOINTS; n++) {
    await advanceRef({ cwd: repo, ref }, async (tip) =>
      git(repo, "commit-tree", tree, ...(tip ? ["-p", tip] : []), "-m", `p${id} c${n}`),
    );
  }
  process.exit(0);
}

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
};

const repo = join(process.argv[2], "repo");
mkdirSync(repo);
git(repo, "init", "-q");

const children = Array.from({ length: PROCESSES }, (_, i) =>
  fork(process.argv[1], ["--child", repo, String(i)], { env, stdio: "inherit" }),
);
const codes = await Promise.all(children.map((c) => once(c, "exit").then(([code]) => code)));
check(
  codes.every((c) => c === 0),
  `child exit codes ${JSON.stringify(codes)}`,
);

const log = git(repo, "log", "--format=%P%x09%s", ref).split("\n");
const messages = log.map((line) => line.split("\t")[1]).sort();
const expected = Array.from({ length: PROCESSES }, (_, p) =>
  Array.from({ length: CHECKPOINTS }, (_, n) => `p${p} c${n}`),
)
  .flat()
  .sort();
check(
  JSON.stringify(messages) === JSON.stringify(expected),
  `chain has ${JSON.stringify(messages)}, expected every checkpoint ${JSON.stringify(expected)}`,
);
check(
  log.every((line) => line.split("\t")[0].split(" ").filter(Boolean).length <= 1),
  "the chain is not linear",
);

const tip = await readRef({ cwd: repo, ref });
check(tip === git(repo, "rev-parse", ref), `readRef gave ${tip}`);
const parent = git(repo, "rev-parse", `${ref}~1`);
try {
  await updateRef({ cwd: repo, ref, newOid: parent, expectedOid: parent });
  check(false, "updateRef with a stale expectedOid succeeded");
} catch (err) {
  check(err instanceof RefConflictError, `updateRef conflict threw ${err?.name}`);
  check(err?.code === "EREFCONFLICT", `updateRef conflict code ${err?.code}`);
  check(err?.actual === tip, `RefConflictError.actual ${err?.actual}, expected ${tip}`);
}
check(git(repo, "rev-parse", ref) === tip, "the failed updateRef moved the ref");

if (failures.length > 0) {
  for (const f of failures) console.error(`git check failed: ${f}`);
  process.exit(1);
}
console.log(
  `git: ${PROCESSES} processes × ${CHECKPOINTS} advanceRef checkpoints on one linear chain; stale updateRef → EREFCONFLICT`,
);
