import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { AbortError } from "../errors.js";
import { classify } from "./classify.js";
import { openRepo, type Repo } from "./repo.js";
import { runGit } from "./run-git.js";
import { checkCwd, checkObject, checkRef, checkSignal } from "./validate.js";

/**
 * Options of {@link readRef}.
 * - `cwd`: a directory inside the repository (any worktree of it).
 * - `ref`: a full ref name (`refs/heads/main`) or `HEAD`.
 * - `signal`: cancels the read.
 *
 * @example
 * ```ts
 * const options: ReadRefOptions = { cwd: repoDir, ref: "refs/heads/main" };
 * ```
 */
export interface ReadRefOptions {
  cwd: string;
  ref: string;
  signal?: AbortSignal | undefined;
}

/**
 * The object id `ref` points to (following symbolic refs such as `HEAD`), or
 * `undefined` when it does not exist (an unborn `HEAD` included). A tag ref gives the
 * tag object, not the commit it tags.
 *
 * **Guarantee:** the answer is the value the ref had at some moment during the call (a
 * single atomic read; git replaces ref files by rename). It may be stale by the time you
 * use it: to change the ref based on it, pass it as `expectedOid` to {@link updateRef},
 * or use {@link advanceRef}.
 *
 * Branches and other shared refs of a repository with the default "files" ref backend
 * are read straight from `.git` (the loose ref file, then `packed-refs`, the order git
 * itself reads them in), without starting git; anything else (symbolic refs, `HEAD`,
 * per-worktree refs, reftable repositories) asks `git show-ref`.
 *
 * **Cancellation:** `signal` rejects the read with an `AbortError` (killing git if it
 * was running).
 *
 * @throws {TypeError} synchronously for a missing `cwd` or a `ref` that is not a valid
 *   full ref name (`"main"` is refused: say `"refs/heads/main"`).
 * @throws {NotAGitRepoError} (rejection) `ENOTGITREPO` when `cwd` is not in a repository.
 * @throws {GitMissingError} (rejection) `EGITMISSING` when git cannot be run.
 *
 * @example
 * ```ts
 * const tip = await readRef({ cwd: repoDir, ref: "refs/heads/main" });
 * if (tip === undefined) console.log("no main branch yet");
 * ```
 */
export function readRef(options: ReadRefOptions): Promise<string | undefined> {
  const o = checkObject(options, "options");
  const cwd = checkCwd(o.cwd);
  const ref = checkRef(o.ref, "ref", true);
  const signal = checkSignal(o.signal);
  return readRefIn(cwd, ref, signal);
}

async function readRefIn(
  cwd: string,
  ref: string,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  if (signal?.aborted) throw new AbortError(signal.reason);
  const repo = await openRepo(cwd);
  return readTip(repo, ref, signal);
}

// Refs that live in each worktree's own git directory rather than the common one.
const PER_WORKTREE = /^refs\/(?:bisect|worktree|rewritten)\//;

/** The current value of `ref` in `repo`; see {@link readRef}. */
export async function readTip(
  repo: Repo,
  ref: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  if (repo.filesBackend && ref.startsWith("refs/") && !PER_WORKTREE.test(ref)) {
    const found = await readFilesBackend(repo, ref);
    if (signal?.aborted) throw new AbortError(signal.reason);
    if (found !== FALL_BACK) return found;
  }
  return readWithGit(repo, ref, signal);
}

const FALL_BACK = Symbol("ask git");

async function readFilesBackend(
  repo: Repo,
  ref: string,
): Promise<string | undefined | typeof FALL_BACK> {
  let loose: string | undefined;
  try {
    loose = await readFile(join(repo.commonDir, ref), "latin1");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOENT: not loose (maybe packed). EISDIR: refs/heads/a/... exist, so no ref "a".
    if (code !== "ENOENT" && code !== "ENOTDIR" && code !== "EISDIR") return FALL_BACK;
  }
  if (loose !== undefined) {
    const oid = loose.trimEnd();
    // A symbolic ref ("ref: refs/heads/x") or anything unexpected: git knows best.
    return oid.length === repo.oidLength && /^[0-9a-f]+$/.test(oid) ? oid : FALL_BACK;
  }
  let packed: string;
  try {
    packed = await readFile(join(repo.commonDir, "packed-refs"), "latin1");
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? undefined : FALL_BACK;
  }
  // Lines are "<oid> <refname>\n"; ref names hold no spaces, so " <ref>\n" only
  // matches a whole name field.
  let at = packed.indexOf(` ${ref}\n`);
  if (at === -1 && packed.endsWith(` ${ref}`)) at = packed.length - ref.length - 1;
  if (at === -1) return undefined;
  const start = at - repo.oidLength;
  if (start < 0 || (start > 0 && packed[start - 1] !== "\n")) return FALL_BACK;
  const oid = packed.slice(start, at);
  return /^[0-9a-f]+$/.test(oid) ? oid : FALL_BACK;
}

async function readWithGit(
  repo: Repo,
  ref: string,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  // show-ref --verify takes the name exactly as given; rev-parse would also try
  // refs/tags/<ref>, refs/heads/<ref>, ... when the ref itself is missing.
  const out = await runGit({ cwd: repo.cwd, args: ["show-ref", "--verify", ref], signal });
  if (out.exitCode === 0) {
    const oid = out.stdout.split(" ")[0]!;
    if (oid.length === repo.oidLength) return oid;
  } else if (/ - not a valid ref/.test(out.stderr)) {
    return undefined;
  }
  throw classify(out);
}
