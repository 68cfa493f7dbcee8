import { createHash } from "node:crypto";
import { join } from "node:path";
import { AbortError } from "../errors.js";
import { acquireFileLock, type FileLockHandle } from "../file-lock/index.js";
import { listenForAbort } from "../internal/abort-watch.js";
import { describe } from "../internal/describe.js";
import { validateOptions } from "../internal/options.js";
import {
  type GitError,
  RefConflictError,
  RefExistsError,
  RefLockedError,
  RefNotFoundError,
} from "./errors.js";
import { readTip } from "./read-ref.js";
import { checkOidLength, openRepo, type Repo } from "./repo.js";
import { transaction } from "./update-ref.js";
import { checkCwd, checkMessage, checkObject, checkOid, checkRef } from "./validate.js";

/**
 * What {@link advanceRef}'s `build` gets besides the current tip: which attempt this is
 * (1 for the first) and the call's `signal`, to pass on to slow work.
 *
 * @example
 * ```ts
 * const build = async (tip: string | undefined, { attempt, signal }: BuildContext) => {
 *   if (attempt > 1) console.warn(`rebuilding on ${tip}`);
 *   return commitTree(tip, { signal });
 * };
 * ```
 */
export interface BuildContext {
  attempt: number;
  signal: AbortSignal | undefined;
}

/**
 * Options of {@link advanceRef}.
 * - `cwd`: a directory inside the repository (any worktree: they share the lock).
 * - `ref`: the full ref name to advance, e.g. `refs/heads/agent/checkpoints`.
 * - `attempts` (default 5): how many times to read, build and update before giving up
 *   with {@link RefConflictError}. Only writers that bypass the lock cause retries.
 * - `lock` (default `true`): serialize with every other `advanceRef` of this ref, in
 *   any process and worktree, through a file lock under the common git directory.
 *   `false` relies on compare-and-swap and retries alone (more rebuilds under contention).
 * - `timeoutMs`: bound the wait for that lock (`LockTimeoutError`).
 * - `signal`: abort while waiting for the lock, between attempts, and before an update.
 * - `message`: the reflog message.
 * - `onConflict(oid, error)`: called with each oid that `build` returned but that lost
 *   the race (the attempt is then retried or the call rejects), e.g. to delete objects
 *   you created only for it. Awaited; if it throws, `advanceRef` rejects with that.
 *
 * @example
 * ```ts
 * const options: AdvanceRefOptions = {
 *   cwd: repoDir,
 *   ref: "refs/heads/agent/checkpoints",
 *   attempts: 8,
 *   signal: AbortSignal.timeout(30_000),
 * };
 * ```
 */
export interface AdvanceRefOptions {
  cwd: string;
  ref: string;
  attempts?: number | undefined;
  lock?: boolean | undefined;
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  message?: string | undefined;
  onConflict?: ((oid: string, error: GitError) => unknown) | undefined;
}

/**
 * What {@link advanceRef} resolves with: the oid the ref now points to (the one `build`
 * returned on the winning attempt) and how many attempts it took.
 *
 * @example
 * ```ts
 * const { oid, attempts }: AdvanceRefResult = await advanceRef(options, build);
 * ```
 */
export interface AdvanceRefResult {
  oid: string;
  attempts: number;
}

const DEFAULT_ATTEMPTS = 5;

/**
 * Retry delays: the upper bound doubles *before* each sample, so even the first retry
 * waits a little, and the floor keeps the jitter from ever being zero, so writers that
 * collided drift apart instead of colliding again in lockstep.
 */
export const RETRY = { firstMs: 2, maxMs: 250, floor: 0.5 };

function retryDelay(retry: number): number {
  const upper = Math.min(RETRY.maxMs, RETRY.firstMs * 2 ** retry);
  return upper * (RETRY.floor + (1 - RETRY.floor) * Math.random());
}

/**
 * The lock file advanceRef takes for `ref`: under the common git directory (shared by
 * every linked worktree), in a folder of interlock's own. Never git's own
 * `refs/.../<ref>.lock`, which git would take for a crashed update.
 */
export function refLockPath(commonDir: string, ref: string): string {
  let name = encodeURIComponent(ref);
  // File names are limited to 255 bytes; a long ref keeps a readable head and a hash.
  if (name.length > 180) {
    name = `${name.slice(0, 100)}~${createHash("sha256").update(ref).digest("hex")}`;
  }
  return join(commonDir, "interlock", "refs", `${name}.lock`);
}

function isLostRace(err: unknown): err is GitError {
  return (
    err instanceof RefConflictError ||
    err instanceof RefExistsError ||
    err instanceof RefNotFoundError ||
    err instanceof RefLockedError
  );
}

interface Plan {
  cwd: string;
  ref: string;
  attempts: number;
  lock: boolean;
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  message: string | undefined;
  onConflict: AdvanceRefOptions["onConflict"];
  build: (current: string | undefined, context: BuildContext) => string | PromiseLike<string>;
}

/**
 * Moves `ref` forward with a commit built on its current tip, without ever losing a
 * concurrent writer's commit: read the tip, `build(tip)`, and set the ref to what
 * `build` returned only if the ref is still at that tip; else read, rebuild and retry.
 *
 * **Guarantee:** when it resolves, the ref moved from exactly the tip `build` was given
 * to the oid it returned, so every write it did not see is still there (under it, if
 * `build` made a child of the tip); when it rejects, it wrote nothing. So N concurrent
 * `advanceRef` calls on one ref leave N commits on one chain, and running out of
 * attempts is a {@link RefConflictError}, never a silent loss.
 *
 * How it runs: (1) an exclusive file lock `<git common dir>/interlock/refs/<ref>.lock`
 * (shared by every worktree and process; `lock: false` skips it), (2) read the tip, (3)
 * `build(tip)`, (4) `git update-ref` with the tip as the old value, (5) on a lost race
 * (a writer that bypassed the lock moved the ref, or holds git's own lock on it),
 * `onConflict(oid)`, a jittered exponential backoff, and back to (2), up to `attempts`
 * times, (6) release the lock.
 *
 * `build` may run more than once: make it depend only on the tip it is given (read the
 * tip's tree, not `HEAD`'s), and create objects, never refs. It may return any object
 * id (for a branch, a commit); returning the tip itself leaves the ref as it is.
 *
 * **Fairness:** callers of one ref in one process go first-come first-served; across
 * processes, whoever the kernel gives the lock to next.
 *
 * **Cancellation:** `signal` rejects with an `AbortError` while waiting for the lock,
 * during a read, between attempts and after `build` (and is passed to `build`); once an
 * update has started it runs to the end (a half-killed update would leave you not
 * knowing whether it happened). `timeoutMs` bounds the wait for the lock only.
 *
 * @param build `(tip, {attempt, signal}) => oid`: the object the ref should point to
 *   next, given its current value (`undefined`: the ref does not exist yet).
 * @throws {TypeError} synchronously for a bad `cwd`, `ref`, `onConflict` or `build`;
 *   as a rejection when `build` returns something that is not an object id.
 * @throws {RangeError} synchronously for `attempts` that is not a positive integer or a
 *   bad `timeoutMs`.
 * @throws {RefConflictError} (rejection) `EREFCONFLICT` when every attempt lost;
 *   `attempts` says how many, `actual` where the ref was last seen.
 * @throws `LockTimeoutError` / `AbortError` (rejection), whatever `build` or
 *   `onConflict` throws, and the git errors of {@link updateRef} other than lost races
 *   (e.g. {@link ObjectMissingError} when `build` returned an oid git does not have).
 *
 * @example
 * ```ts
 * // A checkpoint of the work tree on a shadow branch, safe from any number of processes.
 * const git = (args: string[], env = {}) =>
 *   execFileSync("git", args, { cwd, env: { ...process.env, ...env }, encoding: "utf8" }).trim();
 * const { oid, attempts } = await advanceRef(
 *   { cwd, ref: "refs/heads/agent/checkpoints", message: "checkpoint" },
 *   async (tip) => {
 *     const index = { GIT_INDEX_FILE: join(tmp, "index") };
 *     git(["add", "-A"], index);
 *     const tree = git(["write-tree"], index);
 *     return git(["commit-tree", tree, ...(tip ? ["-p", tip] : []), "-m", "checkpoint"]);
 *   },
 * );
 * ```
 */
export function advanceRef(
  options: AdvanceRefOptions,
  build: (current: string | undefined, context: BuildContext) => string | PromiseLike<string>,
): Promise<AdvanceRefResult> {
  const o = checkObject(options, "options");
  const cwd = checkCwd(o.cwd);
  const ref = checkRef(o.ref, "ref", false);
  if (typeof build !== "function") {
    throw new TypeError(
      `Expected \`build\` to be a function (tip) => oid that builds the next commit, got ${describe(build)}`,
    );
  }
  const attempts = o.attempts ?? DEFAULT_ATTEMPTS;
  if (typeof attempts !== "number" || !Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(
      `Expected \`attempts\` to be a positive integer (the retry budget), got ${describe(o.attempts)}`,
    );
  }
  if (o.lock !== undefined && typeof o.lock !== "boolean") {
    throw new TypeError(`Expected \`lock\` to be a boolean, got ${describe(o.lock)}`);
  }
  if (o.onConflict !== undefined && typeof o.onConflict !== "function") {
    throw new TypeError(
      `Expected \`onConflict\` to be a function (oid, error) => void, got ${describe(o.onConflict)}`,
    );
  }
  const signal = o.signal as AbortSignal | undefined;
  const timeoutMs = o.timeoutMs as number | undefined;
  validateOptions({ signal, timeoutMs });
  return advance({
    cwd,
    ref,
    attempts,
    lock: o.lock !== false,
    timeoutMs,
    signal,
    message: checkMessage(o.message),
    onConflict: o.onConflict as AdvanceRefOptions["onConflict"],
    build,
  });
}

async function advance(p: Plan): Promise<AdvanceRefResult> {
  const { ref, signal } = p;
  if (signal?.aborted) throw new AbortError(signal.reason);
  const repo = await openRepo(p.cwd);
  let lock: FileLockHandle | undefined;
  if (p.lock) {
    lock = await acquireFileLock(refLockPath(repo.commonDir, ref), {
      signal,
      timeoutMs: p.timeoutMs,
      holder: { purpose: `advanceRef ${ref}` },
    });
  }
  try {
    let lost: GitError | undefined;
    let lostExpected: string | null = null;
    for (let attempt = 1; attempt <= p.attempts; attempt++) {
      if (attempt > 1) await sleep(retryDelay(attempt - 1), signal);
      if (signal?.aborted) throw new AbortError(signal.reason);
      const current = await readTip(repo, ref, signal);
      const oid = builtOid(repo, await p.build(current, { attempt, signal }));
      if (signal?.aborted) throw new AbortError(signal.reason, abortedAfterBuild(ref, oid));
      try {
        await transaction(repo, [{ ref, newOid: oid, expectedOid: current ?? null }], p.message);
        return { oid, attempts: attempt };
      } catch (err) {
        if (!isLostRace(err)) throw err;
        lost = err;
        lostExpected = current ?? null;
        await p.onConflict?.(oid, err);
      }
    }
    const actual = await readTip(repo, ref).catch(() => undefined);
    throw new RefConflictError(ref, lostExpected, actual, lost!, {
      attempts: p.attempts,
      cause: lost,
      message: `${ref} kept moving: all ${p.attempts} attempts (read, build, compare-and-swap) lost to other writers${p.lock ? " that bypass advanceRef's lock" : ""}; nothing was written. Last seen at ${actual ?? "nothing (absent)"}. Raise \`attempts\`, or make the other writers use advanceRef`,
    });
  } finally {
    await lock?.release();
  }
}

function builtOid(repo: Repo, value: unknown): string {
  let oid: string;
  try {
    oid = checkOid(value, "build");
  } catch {
    throw new TypeError(
      `Expected \`build\` to return (or resolve to) the full object id of what the ref should point to, got ${describe(value)}`,
    );
  }
  checkOidLength(repo, oid, "the oid returned by build");
  return oid;
}

function abortedAfterBuild(ref: string, oid: string): string {
  return `advanceRef of ${ref} was aborted by its signal after build returned ${oid}; the ref was not updated`;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError(signal.reason));
    const timer = setTimeout(() => {
      stopListening?.();
      resolve();
    }, ms);
    const stopListening =
      signal &&
      listenForAbort(signal, (reason) => {
        clearTimeout(timer);
        reject(new AbortError(reason));
      });
  });
}
