// Compare-and-swap updates of git refs. The front of src/git/: everything public is
// re-exported from here; the other files are internals.
export {
  type AdvanceRefOptions,
  type AdvanceRefResult,
  advanceRef,
  type BuildContext,
} from "./advance-ref.js";
export {
  GitError,
  type GitErrorCode,
  type GitFailure,
  GitHookError,
  GitMissingError,
  NotAGitRepoError,
  ObjectMissingError,
  RefConflictError,
  RefExistsError,
  RefLockedError,
  RefNameError,
  RefNotFoundError,
} from "./errors.js";
export { type ReadRefOptions, readRef } from "./read-ref.js";
export {
  type RefUpdate,
  type UpdateRefOptions,
  type UpdateRefsOptions,
  updateRef,
  updateRefs,
} from "./update-ref.js";
