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
        `${adviceFor(cause)} interlock does not fall back to a lock that does not lock.`,
      { cause },
    );
  }
}

const TOOLCHAIN =
  "a C++ toolchain (python3, make and g++ on Linux, the Xcode command line tools on macOS, Visual Studio Build Tools on Windows)";

/** What to do about it, chosen by what the loader actually saw. */
function adviceFor(cause: unknown): string {
  const err = cause as { code?: unknown; message?: unknown } | null | undefined;
  const message = typeof err?.message === "string" ? err.message : "";
  if (/Dynamic require of|require is not defined/.test(message)) {
    return "A bundler replaced `require` in the code that loads it: keep interlock and fs-ext external (not bundled), e.g. esbuild `--external:fs-ext`, webpack `externals`.";
  }
  if (err?.code === "MODULE_NOT_FOUND" && /['"]fs-ext['"]/.test(message)) {
    return `fs-ext is not installed. It is an optional dependency of interlock that compiles at install time and is skipped when that fails; install ${TOOLCHAIN}, then run \`npm install fs-ext\` in your project.`;
  }
  if (err?.code === "MODULE_NOT_FOUND" || /\.node\b/.test(message)) {
    return `fs-ext is installed but its native addon was never built (were install scripts disabled, e.g. \`--ignore-scripts\`?). Build it with \`npm rebuild fs-ext\`, which needs ${TOOLCHAIN}.`;
  }
  if (/NODE_MODULE_VERSION|ERR_DLOPEN_FAILED/.test(message) || err?.code === "ERR_DLOPEN_FAILED") {
    return `fs-ext was built for another Node.js version or platform: run \`npm rebuild fs-ext\` with the Node.js you run (needs ${TOOLCHAIN}).`;
  }
  return `Reinstall it with \`npm rebuild fs-ext\` (needs ${TOOLCHAIN}) and check that it loads with \`node -e "require('fs-ext')"\`.`;
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
