// One run of the demo's workload, either way: a scratch repository and state files in a
// temp dir, N session processes started together, `ls` while they provision, one of them
// SIGKILLed and replaced, reviewers spawned on request, and then what is left is read.
import { type ChildProcess, execFile, fork, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { KeyedMutex } from "interlock";
import {
  lsRows,
  type RegistryRow,
  registryRows,
  type SessionReport,
  type Workload,
  type World,
} from "./tally.js";

export type Way = "naive" | "interlock";

/** A finished run: what it left behind, and how long it took. */
export interface Outcome {
  world: World;
  /** From "go" to the last reviewer's exit. */
  ms: number;
  /** How long the `ls` during provisioning took to answer, measured inside it. */
  lsMs: number;
  /** Conflicts advanceRef retried (interlock) / unconditional updates git refused (naive). */
  retries: number;
  refused: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const REF = "refs/heads/agent/checkpoints";
// Commits need an identity; the user's git config may have none (or require signing).
const GIT_ENV = {
  GIT_AUTHOR_NAME: "agent",
  GIT_AUTHOR_EMAIL: "agent@example.com",
  GIT_COMMITTER_NAME: "agent",
  GIT_COMMITTER_EMAIL: "agent@example.com",
};

interface Message {
  type: string;
  [field: string]: unknown;
}

/** A session process and the messages it sent that nobody has taken yet. */
class Session {
  readonly #inbox: Message[] = [];
  readonly closed: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    onReview: (commit: string, session: string) => void,
  ) {
    child.on("message", (m: Message) => {
      if (m.type === "review") onReview(String(m.commit), String(m.session));
      else {
        this.#inbox.push(m);
        child.emit("inbox");
      }
    });
    this.closed = once(child, "close").then(() => undefined);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The next message of this type; rejects if the process ends without sending it. */
  async next(type: string): Promise<Message> {
    for (;;) {
      const i = this.#inbox.findIndex((m) => m.type === type);
      if (i !== -1) return this.#inbox.splice(i, 1)[0]!;
      const { exitCode, signalCode } = this.child;
      if (exitCode !== null || signalCode !== null) {
        throw new Error(
          `session pid ${this.pid} ended (${signalCode ?? exitCode}) before "${type}"`,
        );
      }
      await Promise.race([once(this.child, "inbox"), this.closed]);
    }
  }
}

/**
 * The reviewer service: a review request for a commit spawns a reviewer process, unless
 * there is a run for that commit already. The same check-then-spawn either way; interlock
 * holds a per-commit KeyedMutex across it, so a second trigger re-checks after the first.
 */
function reviewService(way: Way, dir: string) {
  const runs = new Map<string, Promise<unknown>>();
  const triggers: Promise<unknown>[] = [];
  const perCommit = new KeyedMutex<string>();

  async function review(commit: string, session: string): Promise<void> {
    if (runs.has(commit)) return; // is there a run for this commit?
    // Something to await before spawning (the session's port, from the proxy config);
    // a second trigger runs its check meanwhile.
    const config = JSON.parse(await readFile(path.join(dir, "proxy.json"), "utf8"));
    const route = config.routes.find((r: { session: string }) => r.session === session);
    const log = path.join(dir, "reviews.log");
    const reviewer = spawn(
      "sh",
      ["-c", 'echo "$1 $$ port $2" >> "$3"', "reviewer", commit, String(route?.port), log],
      {
        stdio: "ignore",
      },
    );
    runs.set(commit, once(reviewer, "exit"));
  }

  return {
    trigger(commit: string, session: string): void {
      triggers.push(
        way === "naive"
          ? review(commit, session)
          : perCommit.runExclusive(commit, () => review(commit, session)),
      );
    },
    /** Every trigger handled and every reviewer exited. */
    async settled(): Promise<void> {
      await Promise.all(triggers);
      await Promise.all(runs.values());
    },
  };
}

async function ls(way: Way, registry: string): Promise<{ rows: RegistryRow[]; ms: number }> {
  const { stdout } = await run(process.execPath, [path.join(here, "ls.mjs"), way, registry]);
  const ms = Number(/answered in ([\d.]+) ms/.exec(stdout)?.[1] ?? Number.NaN);
  return { rows: lsRows(stdout), ms };
}

/** A file's text, or "" if it does not exist (nothing was ever written to it). */
const readText = (file: string) =>
  readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
const readJson = async (file: string): Promise<unknown> => {
  const text = await readText(file);
  return text === "" ? null : JSON.parse(text);
};

/** Runs the workload one way in a fresh temp dir, and removes the dir afterwards. */
export async function runWorld(
  way: Way,
  workload: Workload,
  progress: (line: string) => void,
): Promise<Outcome> {
  const dir = await mkdtemp(path.join(tmpdir(), `interlock-demo-${way}-`));
  const repo = path.join(dir, "repo");
  const registry = path.join(dir, "sessions.json");
  const reviews = reviewService(way, dir);
  const started: Session[] = [];
  const start = () => {
    const args = [way, dir, String(workload.checkpoints), String(workload.tools)];
    const child = fork(path.join(here, "session.mjs"), args, {
      execArgv: [],
      env: { ...process.env, ...GIT_ENV },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const s = new Session(child, (commit, session) => reviews.trigger(commit, session));
    started.push(s);
    return s;
  };
  try {
    await run("git", ["init", "-q", repo]);
    await writeFile(path.join(dir, "proxy.json"), `${JSON.stringify({ routes: [] })}\n`);

    const sessions = Array.from({ length: workload.sessions }, start);
    await Promise.all(sessions.map((s) => s.next("ready")));
    const t0 = performance.now();
    for (const s of sessions) s.child.send("go");
    const reserved = await Promise.all(sessions.map((s) => s.next("reserved")));
    const names = reserved.map((r) => `${r.id}/${r.slot}`).join(" ");
    progress(`${sessions.length} sessions reserved a name/slot: ${names}`);

    // Another terminal: `ls` while every session provisions.
    const during = await ls(way, registry);
    const pending = during.rows.filter((e) => e.status === "pending");
    progress(
      `ls answered in ${during.ms} ms while ${sessions.length} sessions provisioned; it listed ${pending.length} pending`,
    );

    // SIGKILL one session while it holds a pending entry (one `ls` showed, if any).
    const shown = pending
      .map((e) => sessions.find((s) => s.pid === e.pid))
      .filter((s) => s !== undefined);
    const victim =
      shown[Math.min(2, shown.length - 1)] ?? sessions[Math.min(2, sessions.length - 1)]!;
    const victimEntry = reserved[sessions.indexOf(victim)]!;
    victim.child.kill("SIGKILL");
    await victim.closed;
    const after = await ls(way, registry);
    const still = after.rows.some((e) => e.pid === victim.pid);
    progress(
      `SIGKILLed ${victimEntry.id}/${victimEntry.slot} (pid ${victim.pid}); ls now ${still ? "still lists it as pending" : "leaves it out"}`,
    );

    const replacement = start();
    await replacement.next("ready");
    replacement.child.send("go");
    const taken = await replacement.next("reserved");
    progress(`a replacement session reserved ${taken.id}/${taken.slot}`);

    const running = [...sessions.filter((s) => s !== victim), replacement];
    for (const s of running) s.child.send("provisioned");
    const done = await Promise.all(running.map((s) => s.next("done")));
    await Promise.all(running.map((s) => s.closed));
    await reviews.settled();
    const ms = performance.now() - t0;

    const reports: SessionReport[] = running.map((s, i) => {
      const r = s === replacement ? taken : reserved[sessions.indexOf(s)]!;
      return { pid: s.pid, id: String(r.id), slot: Number(r.slot), head: String(done[i]!.head) };
    });
    // No branch at all (every update lost or refused) is 0 commits; any other failure is an error.
    const branch = await run("git", ["rev-list", "--count", REF], {
      cwd: repo,
      env: { ...process.env, LC_ALL: "C" },
    }).catch((error: { stderr?: string }) => {
      if (/unknown revision|ambiguous argument/.test(error.stderr ?? "")) return { stdout: "0" };
      throw error;
    });
    const world: World = {
      sessions: reports,
      provisioning: sessions.map((s) => s.pid),
      listed: during.rows,
      killedPid: victim.pid,
      registry: registryRows(await readJson(registry)),
      config: await readJson(path.join(dir, "proxy.json")),
      branchCommits: Number(branch.stdout.trim()),
      reviewLog: await readText(path.join(dir, "reviews.log")),
      toolLog: await readText(path.join(dir, "tools.log")),
    };
    const sum = (field: string) => done.reduce((n, d) => n + Number(d[field] ?? 0), 0);
    progress(`done in ${(ms / 1000).toFixed(1)} s; ${world.branchCommits} commits on the branch`);
    return { world, ms, lsMs: during.ms, retries: sum("retries"), refused: sum("refused") };
  } finally {
    for (const s of started)
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
    await Promise.all(started.map((s) => s.closed));
    await rm(dir, { recursive: true, force: true });
  }
}
