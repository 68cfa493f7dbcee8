import { describe } from "../internal/describe.js";
import { classify } from "./classify.js";
import { GitError } from "./errors.js";
import { checkOidLength, openRepo, type Repo } from "./repo.js";
import { runGit } from "./run-git.js";
import { checkCwd, checkMessage, checkObject, checkOid, checkRef } from "./validate.js";

/**
 * One compare-and-swap of a ref, for {@link updateRef} and {@link updateRefs}.
 * - `ref`: a full ref name (`refs/heads/main`).
 * - `newOid`: the object id to set; `null` deletes the ref.
 * - `expectedOid`: the value the ref must have now; `null` means "must not exist". There
 *   is no "don't check": an unchecked update is how concurrent writers lose each other's
 *   work.
 *
 * @example
 * ```ts
 * const update: RefUpdate = { ref: "refs/heads/main", newOid: next, expectedOid: tip };
 * ```
 */
export interface RefUpdate {
  ref: string;
  newOid: string | null;
  expectedOid: string | null;
}

/**
 * Options of {@link updateRef}: the fields of a {@link RefUpdate}, plus `cwd` (a
 * directory inside the repository) and `message` (the reflog message).
 *
 * @example
 * ```ts
 * const options: UpdateRefOptions = { cwd, ref: "refs/heads/main", newOid, expectedOid, message: "deploy" };
 * ```
 */
export interface UpdateRefOptions extends RefUpdate {
  cwd: string;
  message?: string | undefined;
}

/**
 * Options of {@link updateRefs}: `cwd`, the `updates` to apply together, and `message`
 * (the reflog message of every update).
 *
 * @example
 * ```ts
 * const options: UpdateRefsOptions = { cwd, updates: [a, b], message: "release 1.2" };
 * ```
 */
export interface UpdateRefsOptions {
  cwd: string;
  updates: readonly RefUpdate[];
  message?: string | undefined;
}

const ZERO = /^0+$/;

function checkUpdate(u: unknown, at: string): RefUpdate {
  const o = checkObject(u, at);
  const ref = checkRef(o.ref, `${at}.ref`, false);
  if (o.newOid === undefined || o.expectedOid === undefined) {
    throw new TypeError(
      `Expected \`${at}.${o.newOid === undefined ? "newOid" : "expectedOid"}\` to be an object id or null, got undefined. ` +
        "`expectedOid` is the value you read (null: the ref must not exist); there is no unchecked update",
    );
  }
  const newOid = o.newOid === null ? null : checkOid(o.newOid, `${at}.newOid`);
  if (newOid !== null && ZERO.test(newOid)) {
    throw new RangeError(
      `Expected \`${at}.newOid\` to name an object, got the zero id; pass \`newOid: null\` to delete the ref`,
    );
  }
  const expectedOid = o.expectedOid === null ? null : checkOid(o.expectedOid, `${at}.expectedOid`);
  // git's own spelling of "must not exist" means what null means.
  return {
    ref,
    newOid,
    expectedOid: expectedOid !== null && ZERO.test(expectedOid) ? null : expectedOid,
  };
}

/**
 * Sets `ref` to `newOid` if, and only if, it is at `expectedOid` now (`null`: if it does
 * not exist), with `git update-ref`.
 *
 * **Guarantee:** the ref changes from exactly `expectedOid` to `newOid`, or not at all:
 * git checks the old value under its own lock on the ref, so no write by anyone else
 * can land between the check and the update and be overwritten.
 *
 * **Failure modes** (nothing was written in any of them): the ref is elsewhere
 * ({@link RefConflictError}, `EREFCONFLICT`, with `actual`); it exists when it had to
 * be absent ({@link RefExistsError}, `EREFEXISTS`); it is absent when it had to exist
 * ({@link RefNotFoundError}, `EREFNOTFOUND`); another git process holds its lock
 * ({@link RefLockedError}, `EREFLOCKED`: retry); `newOid` names no object
 * ({@link ObjectMissingError}); a hook refused ({@link GitHookError}); and
 * `ENOTGITREPO`, `EGITMISSING`, `EREFNAME`, `EGITFAILED` (see {@link GitErrorCode}).
 *
 * **Cancellation:** none: a ref update is one short git command, and killing it halfway
 * would leave you not knowing whether it happened.
 *
 * @throws {TypeError} synchronously for a bad `cwd`, `ref` (a full name is required),
 *   `newOid` or `expectedOid` (40 or 64 hex digits, or `null`; `undefined` is refused).
 * @throws {RangeError} (rejection) for an oid whose length is not the repository's
 *   (40 for SHA-1, 64 for SHA-256).
 *
 * @example
 * ```ts
 * const tip = await readRef({ cwd, ref: "refs/heads/main" });
 * const next = await commitOnTop(tip); // your code: e.g. git commit-tree -p <tip>
 * try {
 *   await updateRef({ cwd, ref: "refs/heads/main", newOid: next, expectedOid: tip ?? null });
 * } catch (err) {
 *   if (err instanceof RefConflictError) console.error("main moved; rebuild on", err.actual);
 *   else throw err;
 * }
 * ```
 */
export function updateRef(options: UpdateRefOptions): Promise<void> {
  const o = checkObject(options, "options");
  const cwd = checkCwd(o.cwd);
  const update = checkUpdate(o, "options");
  const message = checkMessage(o.message);
  return openRepo(cwd).then((repo) => transaction(repo, [update], message));
}

/**
 * Applies several ref updates as one transaction: all of them, or none. Each is a
 * compare-and-swap as in {@link updateRef}.
 *
 * **Guarantee:** either every ref moved from its `expectedOid` to its `newOid`, or no
 * ref changed: git (`update-ref --stdin` with `start`/`prepare`/`commit`) locks and
 * checks every ref before it writes any.
 *
 * **Failure modes:** as {@link updateRef}; the error names the first ref that failed
 * its check, and nothing was written. A ref listed twice is refused before git runs.
 *
 * **Cancellation:** none, as for {@link updateRef}.
 *
 * @throws {TypeError} synchronously for a bad `cwd`, an empty `updates` array, or a bad
 *   update (its index is in the message).
 * @throws {RangeError} synchronously for a ref listed twice; (rejection) for an oid of
 *   the wrong length for the repository.
 *
 * @example
 * ```ts
 * // Publish a release: move the branch and create the tag, or do neither.
 * await updateRefs({
 *   cwd,
 *   updates: [
 *     { ref: "refs/heads/release", newOid: commit, expectedOid: releaseTip },
 *     { ref: "refs/tags/v1.2.0", newOid: commit, expectedOid: null },
 *   ],
 * });
 * ```
 */
export function updateRefs(options: UpdateRefsOptions): Promise<void> {
  const o = checkObject(options, "options");
  const cwd = checkCwd(o.cwd);
  if (!Array.isArray(o.updates) || o.updates.length === 0) {
    throw new TypeError(
      `Expected \`updates\` to be a non-empty array of {ref, newOid, expectedOid}, got ${describe(o.updates)}`,
    );
  }
  const updates = o.updates.map((u, i) => checkUpdate(u, `updates[${i}]`));
  const seen = new Set<string>();
  for (const u of updates) {
    if (seen.has(u.ref)) {
      throw new RangeError(
        `\`updates\` lists ${u.ref} more than once; a transaction can move each ref only once`,
      );
    }
    seen.add(u.ref);
  }
  const message = checkMessage(o.message);
  return openRepo(cwd).then((repo) => transaction(repo, updates, message));
}

/**
 * One `git update-ref --stdin -z` transaction. The old value is always explicit: in
 * `-z` mode an empty one means "don't check", so "must not exist" is the zero id of
 * this repository's hash length.
 */
export async function transaction(
  repo: Repo,
  updates: readonly RefUpdate[],
  message?: string,
): Promise<void> {
  let input = "start\0";
  const expected = new Map<string, string | null>();
  for (const [i, u] of updates.entries()) {
    if (u.newOid !== null) checkOidLength(repo, u.newOid, `updates[${i}].newOid`);
    if (u.expectedOid !== null) checkOidLength(repo, u.expectedOid, `updates[${i}].expectedOid`);
    expected.set(u.ref, u.expectedOid);
    const old = u.expectedOid ?? repo.zeroOid;
    if (u.newOid === null) {
      // delete refuses a zero old value; "delete what must not exist" is a verify.
      input += u.expectedOid === null ? `verify ${u.ref}\0${old}\0` : `delete ${u.ref}\0${old}\0`;
    } else {
      input += `update ${u.ref}\0${u.newOid}\0${old}\0`;
    }
  }
  input += "prepare\0commit\0";
  const args = ["update-ref", ...(message === undefined ? [] : ["-m", message]), "--stdin", "-z"];
  const out = await runGit({ cwd: repo.cwd, args, input });
  if (out.exitCode !== 0) throw classify(out, expected);
  if (!/^commit: ok$/m.test(out.stdout)) {
    throw new GitError(
      "EGITFAILED",
      `git update-ref exited 0 without confirming the commit: ${JSON.stringify(out.stdout)}`,
      out,
    );
  }
}
