import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { AbortError } from "../errors.js";
import { listenForAbort } from "../internal/abort-watch.js";
import { type GitFailure, GitMissingError, NotAGitRepoError } from "./errors.js";

/** What a git command printed and how it ended. */
export interface GitOutput extends GitFailure {
  stdout: string;
}

export interface GitRun {
  cwd: string;
  args: readonly string[];
  /** Written to git's stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | undefined;
  /** Kills git (SIGTERM, so it removes its lock files) and rejects with an `AbortError`. */
  signal?: AbortSignal | undefined;
}

// Variables that would make git act on another repository than the one `cwd` names
// (set, for example, when this process runs inside a git hook) or rename every ref.
const REDIRECTING = ["GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE", "GIT_NAMESPACE", "GIT_PREFIX"];

function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of REDIRECTING) delete env[name];
  // Messages are classified by their English text, so they must be English in every
  // locale; no prompt may wait for a terminal that nobody watches; and read-only
  // commands must not take the index lock behind a user's back.
  env.LC_ALL = "C";
  env.GIT_TERMINAL_PROMPT = "0";
  env.GIT_OPTIONAL_LOCKS = "0";
  return env;
}

/**
 * Runs `git <args>` in `cwd` without a shell and resolves with its output, whatever its
 * exit code. Rejects only when git cannot run at all ({@link GitMissingError}, or
 * {@link NotAGitRepoError} when `cwd` does not exist) or when `signal` aborts.
 */
export function runGit(run: GitRun): Promise<GitOutput> {
  const { cwd, args, input, signal } = run;
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason, abortedMessage(args)));
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, {
      cwd,
      env: gitEnv(),
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    let stdout = "";
    let stderr = "";
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      child.kill("SIGTERM");
      reject(new AbortError(signal!.reason, abortedMessage(args)));
    };
    // One listener per signal however many git processes share it (abort-watch.ts).
    const stopListening = signal && listenForAbort(signal, onAbort);
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", (err: NodeJS.ErrnoException) => {
      stopListening?.();
      if (settled) return;
      settled = true;
      const failure = { cwd, args, exitCode: null, stderr };
      // spawn reports a missing cwd as ENOENT too, naming the executable: tell them apart.
      if (err.code === "ENOENT" && !isDirectory(cwd)) {
        reject(new NotAGitRepoError(failure, "does not exist or is not a directory", err));
      } else {
        reject(new GitMissingError(failure, err));
      }
    });
    child.on("close", (exitCode) => {
      stopListening?.();
      if (settled) return;
      settled = true;
      resolve({ cwd, args, exitCode, stdout, stderr });
    });
    if (input !== undefined) {
      // git may exit before reading everything (a bad repository): that EPIPE is not
      // the error to report, its stderr is.
      child.stdin!.on("error", () => {});
      child.stdin!.end(input);
    }
  });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function abortedMessage(args: readonly string[]): string {
  return `git ${args[0] ?? ""} was aborted by its signal`;
}
