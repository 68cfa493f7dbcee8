import { InterlockError } from "../errors.js";

/**
 * Codes of {@link GitError} and its subclasses:
 * - `EREFCONFLICT`: the ref is at another oid than expected ({@link RefConflictError}).
 * - `EREFEXISTS`: the ref was expected not to exist, and exists ({@link RefExistsError}).
 * - `EREFNOTFOUND`: the ref was expected at an oid, and does not exist ({@link RefNotFoundError}).
 * - `EREFLOCKED`: git's own `<ref>.lock` (or `packed-refs.lock`) is held by another git
 *   process, or left behind by one that crashed ({@link RefLockedError}).
 * - `EREFNAME`: git refused the ref name ({@link RefNameError}).
 * - `EOBJECTMISSING`: the new oid names no object in the repository ({@link ObjectMissingError}).
 * - `EGITHOOK`: a `reference-transaction` hook rejected the update ({@link GitHookError}).
 * - `ENOTGITREPO`: `cwd` is not inside a git repository, or does not exist ({@link NotAGitRepoError}).
 * - `EGITMISSING`: the `git` executable cannot be run ({@link GitMissingError}).
 * - `EGITFAILED`: any other failure of git; `stderr` says what it was.
 */
export type GitErrorCode =
  | "EREFCONFLICT"
  | "EREFEXISTS"
  | "EREFNOTFOUND"
  | "EREFLOCKED"
  | "EREFNAME"
  | "EOBJECTMISSING"
  | "EGITHOOK"
  | "ENOTGITREPO"
  | "EGITMISSING"
  | "EGITFAILED";

/** What git was asked and what it answered: every {@link GitError} keeps it. */
export interface GitFailure {
  /** The directory git ran in. */
  cwd: string;
  /** git's arguments (without `git` itself). */
  args: readonly string[];
  /** git's exit code; `null` when it did not exit normally (or never started). */
  exitCode: number | null;
  /** Everything git wrote to stderr, untouched. */
  stderr: string;
}

const NO_RUN: GitFailure = { cwd: "", args: [], exitCode: null, stderr: "" };

/**
 * A git command failed. The base class of every git error interlock throws; `code`
 * says why (see {@link GitErrorCode}), and `stderr`, `args`, `exitCode` and `cwd` keep
 * what git said, so nothing is lost by the classification.
 *
 * @example
 * ```ts
 * try {
 *   await updateRef({ cwd, ref: "refs/heads/main", newOid, expectedOid });
 * } catch (err) {
 *   if (err instanceof GitError) console.error(err.code, err.stderr);
 *   throw err;
 * }
 * ```
 */
export class GitError extends InterlockError {
  declare readonly code: GitErrorCode;
  readonly cwd: string;
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(
    code: GitErrorCode,
    message: string,
    failure: GitFailure = NO_RUN,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.cwd = failure.cwd;
    this.args = failure.args;
    this.exitCode = failure.exitCode;
    this.stderr = failure.stderr;
  }
}

/**
 * A compare-and-swap lost: `ref` is at `actual`, not at `expected`, so nothing was
 * written. From {@link advanceRef} it means the retry budget ran out: `attempts` reads,
 * rebuilds and updates all lost to writers that bypass its lock; never a silent loss.
 *
 * - `expected`: the oid the update required (`null`: the ref had to be absent).
 * - `actual`: the oid found instead (`undefined`: absent, or not known).
 * - `attempts`: how many updates were tried (1 for {@link updateRef}).
 *
 * @example
 * ```ts
 * try {
 *   await updateRef({ cwd, ref, newOid, expectedOid: seen });
 * } catch (err) {
 *   if (err instanceof RefConflictError) console.error(`${err.ref} moved to ${err.actual}`);
 *   else throw err;
 * }
 * ```
 */
export class RefConflictError extends GitError {
  declare readonly code: "EREFCONFLICT";
  readonly ref: string;
  readonly expected: string | null;
  readonly actual: string | undefined;
  readonly attempts: number;

  constructor(
    ref: string,
    expected: string | null,
    actual: string | undefined,
    failure: GitFailure,
    more: { attempts?: number; message?: string; cause?: unknown } = {},
  ) {
    super(
      "EREFCONFLICT",
      more.message ??
        `${ref} is at ${actual ?? "nothing (absent)"}, not at ${expected ?? "nothing (absent)"} as expected; nothing was written. Re-read it and rebuild on the new tip (advanceRef does this for you)`,
      failure,
      "cause" in more ? { cause: more.cause } : undefined,
    );
    this.ref = ref;
    this.expected = expected;
    this.actual = actual;
    this.attempts = more.attempts ?? 1;
  }
}

/**
 * The update required `ref` not to exist (`expectedOid: null`), and it exists; nothing
 * was written.
 *
 * @example
 * ```ts
 * try {
 *   await updateRef({ cwd, ref: "refs/heads/new", newOid, expectedOid: null });
 * } catch (err) {
 *   if (err instanceof RefExistsError) console.error(`${err.ref} was created meanwhile`);
 *   else throw err;
 * }
 * ```
 */
export class RefExistsError extends GitError {
  declare readonly code: "EREFEXISTS";
  readonly ref: string;

  constructor(ref: string, failure: GitFailure) {
    super(
      "EREFEXISTS",
      `${ref} already exists, and the update required it not to (expectedOid: null); nothing was written`,
      failure,
    );
    this.ref = ref;
  }
}

/**
 * The update required `ref` to be at `expected`, and the ref does not exist (deleted,
 * or never created); nothing was written.
 *
 * @example
 * ```ts
 * try {
 *   await updateRef({ cwd, ref, newOid, expectedOid: seen });
 * } catch (err) {
 *   if (err instanceof RefNotFoundError) console.error(`${err.ref} was deleted`);
 *   else throw err;
 * }
 * ```
 */
export class RefNotFoundError extends GitError {
  declare readonly code: "EREFNOTFOUND";
  readonly ref: string;
  readonly expected: string | null;

  constructor(ref: string, expected: string | null, failure: GitFailure) {
    super(
      "EREFNOTFOUND",
      `${ref} does not exist, and the update required it at ${expected ?? "(unknown)"}; nothing was written`,
      failure,
    );
    this.ref = ref;
    this.expected = expected;
  }
}

/**
 * git could not take its own lock file for the ref (`lockPath`, e.g.
 * `.git/refs/heads/main.lock` or `.git/packed-refs.lock`): another git process is
 * updating it, or one crashed and left the file. Nothing was written. Usually transient;
 * {@link advanceRef} retries it. If it persists, no git process is running and the file
 * is old, a crash left it: remove it by hand.
 *
 * @example
 * ```ts
 * try {
 *   await updateRef({ cwd, ref, newOid, expectedOid });
 * } catch (err) {
 *   if (err instanceof RefLockedError) console.error(`busy: ${err.lockPath}`);
 *   else throw err;
 * }
 * ```
 */
export class RefLockedError extends GitError {
  declare readonly code: "EREFLOCKED";
  readonly ref: string | undefined;
  readonly lockPath: string;

  constructor(ref: string | undefined, lockPath: string, failure: GitFailure) {
    super(
      "EREFLOCKED",
      `git's lock file ${lockPath} exists${ref ? ` (updating ${ref})` : ""}: another git process holds it, or one crashed and left it; nothing was written. Retry; remove the file only if no git process is running`,
      failure,
    );
    this.ref = ref;
    this.lockPath = lockPath;
  }
}

/**
 * git refused a ref name. interlock checks names before running git (bad names throw a
 * `TypeError` at the call), so this is a name git rejects for another reason, e.g. one
 * that clashes with an existing ref (`refs/heads/a` exists, `refs/heads/a/b` cannot).
 *
 * @example
 * ```ts
 * try {
 *   await updateRef({ cwd, ref: "refs/heads/a/b", newOid, expectedOid: null });
 * } catch (err) {
 *   if (err instanceof RefNameError) console.error(err.stderr);
 *   else throw err;
 * }
 * ```
 */
export class RefNameError extends GitError {
  declare readonly code: "EREFNAME";
  readonly ref: string | undefined;

  constructor(ref: string | undefined, failure: GitFailure) {
    super(
      "EREFNAME",
      `git refused the ref name${ref ? ` ${ref}` : ""}: ${lastLine(failure.stderr)}`,
      failure,
    );
    this.ref = ref;
  }
}

/**
 * The new oid names no object in the repository (write the object first, or check you
 * are in the right repository); nothing was written.
 *
 * @example
 * ```ts
 * try {
 *   await updateRef({ cwd, ref, newOid: typo, expectedOid });
 * } catch (err) {
 *   if (err instanceof ObjectMissingError) console.error(`no object ${err.oid}`);
 *   else throw err;
 * }
 * ```
 */
export class ObjectMissingError extends GitError {
  declare readonly code: "EOBJECTMISSING";
  readonly ref: string | undefined;
  readonly oid: string;

  constructor(ref: string | undefined, oid: string, failure: GitFailure) {
    super(
      "EOBJECTMISSING",
      `${oid} names no object in this repository${ref ? `, so ${ref} cannot point to it` : ""}; nothing was written`,
      failure,
    );
    this.ref = ref;
    this.oid = oid;
  }
}

/**
 * A `reference-transaction` hook rejected the update; nothing was written. `stderr`
 * holds what the hook printed.
 *
 * @example
 * ```ts
 * try {
 *   await updateRefs({ cwd, updates });
 * } catch (err) {
 *   if (err instanceof GitHookError) console.error(`hook said: ${err.stderr}`);
 *   else throw err;
 * }
 * ```
 */
export class GitHookError extends GitError {
  declare readonly code: "EGITHOOK";

  constructor(failure: GitFailure) {
    super(
      "EGITHOOK",
      `A reference-transaction hook rejected the ref update; nothing was written. git said: ${oneLine(failure.stderr)}`,
      failure,
    );
  }
}

/**
 * `cwd` is not inside a git repository (or does not exist).
 *
 * @example
 * ```ts
 * try {
 *   await readRef({ cwd: process.cwd(), ref: "HEAD" });
 * } catch (err) {
 *   if (err instanceof NotAGitRepoError) console.error(`${err.cwd} is not a git checkout`);
 *   else throw err;
 * }
 * ```
 */
export class NotAGitRepoError extends GitError {
  declare readonly code: "ENOTGITREPO";

  constructor(failure: GitFailure, detail = "is not inside a git repository", cause?: unknown) {
    super(
      "ENOTGITREPO",
      `${failure.cwd} ${detail}; pass the \`cwd\` of a git checkout`,
      failure,
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * The `git` executable could not be started (not installed, or not on `PATH`). `cause`
 * is the spawn error.
 *
 * @example
 * ```ts
 * try {
 *   await readRef({ cwd, ref: "HEAD" });
 * } catch (err) {
 *   if (err instanceof GitMissingError) console.error("install git first");
 *   else throw err;
 * }
 * ```
 */
export class GitMissingError extends GitError {
  declare readonly code: "EGITMISSING";

  constructor(failure: GitFailure, cause: unknown) {
    const why = (cause as NodeJS.ErrnoException | undefined)?.code ?? String(cause);
    super(
      "EGITMISSING",
      `Cannot run git (${why}): install git 2.31 or later and make sure it is on the PATH of this process`,
      failure,
      { cause },
    );
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, " / ");
}
