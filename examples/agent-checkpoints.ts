// Agent sessions checkpointing their work on one shadow branch.
//
// Four sessions run at once in one repository, each saving three checkpoints of its notes
// on refs/heads/agent/checkpoints: a commit built on the branch's current tip, whose tree
// is the tip's tree with the session's own file extended by one line. First each session
// does what the sessions in CONTEXT.md §1 did: read the tip, build on it, set the ref
// with `git update-ref <ref> <new>`. Then each uses advanceRef.
//
// Run it: npm run build && node --import tsx examples/agent-checkpoints.ts
// (With arguments, it is one session; the demo spawns those.)
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { advanceRef } from "interlock";

const SESSIONS = 4;
const CHECKPOINTS = 3;
const REF = "refs/heads/agent/checkpoints";

// Plain git, as an agent tool would run it (an identity and no signing, so the demo runs
// whatever the user's git config says).
function git(repo: string, args: string[], options: { input?: string; index?: string } = {}) {
  return execFileSync(
    "git",
    [
      "-c",
      "user.name=agent",
      "-c",
      "user.email=agent@example.com",
      "-c",
      "commit.gpgSign=false",
      ...args,
    ],
    {
      cwd: repo,
      input: options.input,
      encoding: "utf8",
      env: { ...process.env, ...(options.index ? { GIT_INDEX_FILE: options.index } : {}) },
      stdio: ["pipe", "pipe", "pipe"],
    },
  ).trim();
}

/** A checkpoint on `tip`: its tree plus one more line in this session's file. */
function buildCheckpoint(
  repo: string,
  tip: string | undefined,
  id: string,
  n: number,
  index: string,
) {
  const file = `session-${id}.txt`;
  git(repo, tip ? ["read-tree", tip] : ["read-tree", "--empty"], { index });
  let notes = "";
  try {
    notes = tip ? `${git(repo, ["cat-file", "-p", `${tip}:${file}`])}\n` : "";
  } catch {
    // This session has no file in that tree yet.
  }
  const blob = git(repo, ["hash-object", "-w", "--stdin"], { input: `${notes}checkpoint ${n}\n` });
  git(repo, ["update-index", "--add", "--cacheinfo", `100644,${blob},${file}`], { index });
  const tree = git(repo, ["write-tree"], { index });
  const parent = tip ? ["-p", tip] : [];
  return git(repo, ["commit-tree", tree, ...parent, "-m", `session ${id}: checkpoint ${n}`]);
}

// --- one session: agent-checkpoints.ts <naive|advanceRef> <repo> <id> ---
async function session(way: string, repo: string, id: string): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  const go = () => new Promise<void>((resolve) => lines.once("line", () => resolve()));
  const scratch = mkdtempSync(path.join(tmpdir(), "interlock-session-"));
  const index = path.join(scratch, "index");
  try {
    for (let n = 1; n <= CHECKPOINTS; n++) {
      if (way === "naive") {
        let tip: string | undefined;
        try {
          tip = git(repo, ["rev-parse", "--verify", "-q", REF]);
        } catch {
          tip = undefined;
        }
        console.log("ready");
        await go(); // every session has read the tip before any writes
        const oid = buildCheckpoint(repo, tip, id, n, index);
        git(repo, ["update-ref", REF, oid]);
        console.log("done 1");
      } else {
        console.log("ready");
        await go();
        const { attempts } = await advanceRef(
          { cwd: repo, ref: REF, message: `session ${id}: checkpoint ${n}` },
          (tip) => buildCheckpoint(repo, tip, id, n, index),
        );
        console.log(`done ${attempts}`);
      }
    }
  } finally {
    lines.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

// --- the demo: run the sessions each way and count what is left on the branch ---
function start(way: string, repo: string, id: number): ChildProcess {
  const self = fileURLToPath(import.meta.url);
  return spawn(process.execPath, [...process.execArgv, self, way, repo, String(id)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
}

async function run(way: string, title: string): Promise<void> {
  const repo = mkdtempSync(path.join(tmpdir(), "interlock-checkpoints-demo-"));
  try {
    git(repo, ["init", "-q"]);
    const sessions = Array.from({ length: SESSIONS }, (_, i) => start(way, repo, i));
    const exited = sessions.map((s) => new Promise((resolve) => s.once("exit", resolve)));
    // Each session's stdout, line by line, queued so that no line is missed.
    const inboxes = sessions.map((s) => {
      const queue: string[] = [];
      const waiting: ((line: string) => void)[] = [];
      createInterface({ input: s.stdout! }).on("line", (line) => {
        const w = waiting.shift();
        if (w) w(line);
        else queue.push(line);
      });
      return () =>
        new Promise<string>((resolve) => {
          const line = queue.shift();
          if (line !== undefined) resolve(line);
          else waiting.push(resolve);
        });
    });
    const next = (i: number) => inboxes[i]!();
    let retries = 0;
    for (let n = 1; n <= CHECKPOINTS; n++) {
      await Promise.all(sessions.map((_, i) => next(i))); // all "ready"
      const done = sessions.map((_, i) => next(i));
      for (const s of sessions) s.stdin!.write("go\n");
      for (const line of await Promise.all(done)) retries += Number(line.split(" ")[1]) - 1;
    }
    for (const s of sessions) s.stdin!.end();
    await Promise.all(exited);

    const total = SESSIONS * CHECKPOINTS;
    const kept = Number(git(repo, ["rev-list", "--count", REF]));
    const merges = Number(git(repo, ["rev-list", "--count", "--min-parents=2", REF]));
    const files = git(repo, ["ls-tree", "--name-only", REF]).split("\n");
    const lines = files
      .map((f) => git(repo, ["cat-file", "-p", `${REF}:${f}`]).split("\n").length)
      .reduce((a, b) => a + b, 0);
    console.log(`\n${title}`);
    console.log(`  checkpoints on the branch: ${kept} of ${total}`);
    console.log(`  checkpoint lines in the last commit's files: ${lines} of ${total}`);
    if (way === "advanceRef") {
      console.log(`  one linear history: ${merges === 0 ? "yes" : "no"}; retries: ${retries}`);
    }
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

const [way, repo, id] = process.argv.slice(2);
if (way !== undefined) {
  await session(way, repo!, id!);
} else {
  console.log(`${SESSIONS} agent sessions, ${CHECKPOINTS} checkpoints each, on ${REF}`);
  await run("naive", "naive (read the tip, commit on it, `git update-ref <ref> <new>`):");
  await run("advanceRef", "advanceRef (lock, read, build, compare-and-swap):");
}

// Output:
// 4 agent sessions, 3 checkpoints each, on refs/heads/agent/checkpoints
//
// naive (read the tip, commit on it, `git update-ref <ref> <new>`):
//   checkpoints on the branch: 3 of 12
//   checkpoint lines in the last commit's files: 3 of 12
//
// advanceRef (lock, read, build, compare-and-swap):
//   checkpoints on the branch: 12 of 12
//   checkpoint lines in the last commit's files: 12 of 12
//   one linear history: yes; retries: 0
