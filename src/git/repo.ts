import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { classify } from "./classify.js";
import { GitError } from "./errors.js";
import { runGit } from "./run-git.js";

/** What interlock needs to know about a repository, found once per `cwd`. */
export interface Repo {
  cwd: string;
  /** Absolute path of the directory shared by every worktree (`.git` of the main one). */
  commonDir: string;
  /** Absolute path of this worktree's own git directory (per-worktree refs live there). */
  gitDir: string;
  format: "sha1" | "sha256";
  /** Length of an object id in this repository: 40 or 64. */
  oidLength: number;
  /** "Must not exist", sized for this repository: a 40-zero id is refused in SHA-256 ones. */
  zeroOid: string;
  /** Refs are files under `commonDir` (plus `packed-refs`), so they can be read without git. */
  filesBackend: boolean;
}

const cache = new Map<string, Promise<Repo>>();

/**
 * The repository `cwd` is in, from one `git rev-parse` per `cwd` for the life of the
 * process. A failure is not cached: a later call may find a repository created since.
 */
export function openRepo(cwd: string): Promise<Repo> {
  const key = resolve(cwd);
  let repo = cache.get(key);
  if (repo === undefined) {
    repo = detect(key);
    cache.set(key, repo);
    repo.catch(() => cache.delete(key));
  }
  return repo;
}

async function detect(cwd: string): Promise<Repo> {
  // --path-format=absolute: from a subdirectory of a linked worktree, --git-common-dir
  // is otherwise relative, and a lock under a relative path is no lock at all.
  const args = [
    "rev-parse",
    "--path-format=absolute",
    "--git-common-dir",
    "--git-dir",
    "--show-object-format",
  ];
  const out = await runGit({ cwd, args });
  if (out.exitCode !== 0) throw classify(out);
  const [commonDir, gitDir, format] = out.stdout.split("\n");
  if (
    commonDir === undefined ||
    gitDir === undefined ||
    !isAbsolute(commonDir) ||
    !isAbsolute(gitDir) ||
    (format !== "sha1" && format !== "sha256")
  ) {
    throw new GitError(
      "EGITFAILED",
      `Unexpected answer from git rev-parse (is git older than 2.31?): ${JSON.stringify(out.stdout)}`,
      out,
    );
  }
  const oidLength = format === "sha1" ? 40 : 64;
  return {
    cwd,
    commonDir,
    gitDir,
    format,
    oidLength,
    zeroOid: "0".repeat(oidLength),
    // A reftable repository (git 2.45+) keeps its refs in <common>/reftable.
    filesBackend: !existsSync(resolve(commonDir, "reftable")),
  };
}

/** RangeError (as a rejection) for an oid of the other hash's length. */
export function checkOidLength(repo: Repo, oid: string, what: string): void {
  if (oid.length !== repo.oidLength) {
    throw new RangeError(
      `\`${what}\` has ${oid.length} hex digits, but ${repo.cwd} is a ${repo.format} repository, whose object ids have ${repo.oidLength}; got the string "${oid}"`,
    );
  }
}
