import {
  GitError,
  type GitFailure,
  GitHookError,
  NotAGitRepoError,
  ObjectMissingError,
  RefConflictError,
  RefExistsError,
  RefLockedError,
  RefNameError,
  RefNotFoundError,
} from "./errors.js";

/**
 * The typed error for a failed git command, from its stderr (git runs with `LC_ALL=C`,
 * so the messages are the English ones matched here; verified against git 2.39).
 * `expected` gives the old value each ref was required to have, for conflict errors.
 */
export function classify(
  failure: GitFailure,
  expected?: ReadonlyMap<string, string | null>,
): GitError {
  const { stderr } = failure;
  // "fatal: prepare: cannot lock ref 'refs/heads/a': <why>"
  const ref = /cannot (?:lock|update) ref '([^']+)'/.exec(stderr)?.[1];
  const wanted = ref === undefined ? undefined : expected?.get(ref);

  const conflict = /cannot lock ref '([^']+)': is at ([0-9a-f]+) but expected ([0-9a-f]+)/.exec(
    stderr,
  );
  if (conflict) {
    return new RefConflictError(conflict[1]!, wanted ?? conflict[3]!, conflict[2], failure);
  }
  if (ref !== undefined && /: reference already exists/.test(stderr)) {
    return new RefExistsError(ref, failure);
  }
  if (ref !== undefined && /: unable to resolve reference/.test(stderr)) {
    return new RefNotFoundError(ref, wanted ?? null, failure);
  }
  const lock = /Unable to create '([^']+\.lock)': File exists/.exec(stderr);
  if (lock) return new RefLockedError(ref, lock[1]!, failure);
  const missing = /nonexistent object ([0-9a-f]+)/.exec(stderr);
  if (missing) return new ObjectMissingError(ref, missing[1]!, failure);
  if (/aborted by (?:the reference-transaction )?hook/.test(stderr)) {
    return new GitHookError(failure);
  }
  if (
    /invalid ref format|refusing to update ref with bad name|bad ref name|is not a valid ref name/.test(
      stderr,
    ) ||
    (ref !== undefined && /'[^']+' exists; cannot create '[^']+'/.test(stderr))
  ) {
    return new RefNameError(ref, failure);
  }
  if (/not a git repository/.test(stderr)) return new NotAGitRepoError(failure);
  const said = stderr.trim() || `exit code ${failure.exitCode}`;
  return new GitError("EGITFAILED", `git ${failure.args[0] ?? ""} failed: ${said}`, failure);
}
