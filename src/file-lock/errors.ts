import { InterlockError } from "../errors.js";

/**
 * fs-ext, the native module that provides `flock(2)`, could not be loaded (not built for
 * this Node version, missing toolchain at install time, unsupported platform). File
 * locks refuse to work rather than pretend: a lock that does not lock is worse than an
 * error. `cause` is the loader's error.
 *
 * @example
 * ```ts
 * try {
 *   await acquireFileLock(file);
 * } catch (err) {
 *   if (err instanceof FileLockUnavailableError) console.error(err.message); // says how to rebuild
 *   throw err;
 * }
 * ```
 */
export class FileLockUnavailableError extends InterlockError {
  declare readonly code: "EFLOCKUNAVAILABLE";

  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
    super(
      "EFLOCKUNAVAILABLE",
      `File locks are unavailable: the native module fs-ext, which provides flock(2), failed to load (${detail}). ` +
        "Rebuild it for this Node version with `npm rebuild fs-ext` (needs a C++ toolchain: " +
        "python3, make and g++ on Linux, the Xcode command line tools on macOS, Visual Studio " +
        "Build Tools on Windows). interlock does not fall back to a lock that does not lock.",
      { cause },
    );
  }
}

/**
 * Codes of {@link FileLockPathError}:
 * - `EFLOCKPATH`: the path cannot name a lock file: it is empty, it or one of its
 *   parents is not what a lock file needs (a symbolic link, a FIFO or device, a regular
 *   file where a directory should be).
 * - `EFLOCKISDIR`: the path names a directory.
 * - `EFLOCKACCES`: no permission to create or open the lock file read-write, or to
 *   create a missing parent directory (`EACCES`, `EPERM`, `EROFS`).
 */
export type FileLockPathErrorCode = "EFLOCKPATH" | "EFLOCKISDIR" | "EFLOCKACCES";

/**
 * The lock file cannot be created or opened as a lock file at `path`. Thrown
 * synchronously for an empty path; the others are found by the filesystem and reject
 * the acquire. `cause` is the underlying system error, when there is one.
 *
 * @example
 * ```ts
 * try {
 *   await acquireFileLock("/etc/app.lock");
 * } catch (err) {
 *   if (err instanceof FileLockPathError && err.code === "EFLOCKACCES") {
 *     console.error(`cannot lock ${err.path}: pick a writable directory`);
 *   } else throw err;
 * }
 * ```
 */
export class FileLockPathError extends InterlockError {
  declare readonly code: FileLockPathErrorCode;
  /** The lock file path, absolute when it was not empty. */
  readonly path: string;

  constructor(code: FileLockPathErrorCode, path: string, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.path = path;
  }
}
