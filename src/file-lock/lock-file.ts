import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  type Stats,
  statSync,
} from "node:fs";
import { dirname } from "node:path";
import { FileLockPathError } from "./errors.js";

// O_NOFOLLOW: a symlink planted at the lock path must not make us create, lock or write
// into the file it points to. O_NONBLOCK: opening a FIFO that took the lock file's place
// must not freeze the event loop waiting for a writer; the fstat that follows refuses
// it. (It changes nothing for a regular file: flock has its own non-blocking flag. And
// libuv adds O_CLOEXEC, so child processes never inherit the descriptor and cannot keep
// the lock alive after we die.)
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const NONBLOCK = constants.O_NONBLOCK ?? 0;
const OPEN_RW = constants.O_RDWR | constants.O_CREAT | NOFOLLOW | NONBLOCK;
const OPEN_RO = constants.O_RDONLY | NOFOLLOW | NONBLOCK;

/** An open lock file and the identity of the inode behind the descriptor. */
export interface OpenLockFile {
  fd: number;
  ino: number;
  dev: number;
}

/** Why a path was opened: the message for a refusal says which access failed. */
type Access = "read-write" | "read";

/**
 * "owned by uid 0, mode 0644": for a lock file that exists but cannot be opened, the
 * usual story is a run under sudo that created it as root.
 */
function ownership(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `owned by uid ${st.uid}, mode 0${(st.mode & 0o777).toString(8)}`;
  } catch {
    return undefined;
  }
}

/** Turns a system error on `path` into the typed error callers can branch on. */
export function pathError(err: unknown, path: string, access: Access = "read-write"): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "EISDIR":
      return new FileLockPathError(
        "EFLOCKISDIR",
        path,
        `Cannot use ${path} as a lock file: it is a directory. Name a file inside it, e.g. ${path}/.lock`,
        err,
      );
    case "ELOOP":
    case "EMLINK": // FreeBSD's answer to O_NOFOLLOW on a symlink
      return new FileLockPathError(
        "EFLOCKPATH",
        path,
        `Cannot use ${path} as a lock file: it is a symbolic link. Lock files are opened without following links, so a planted link cannot redirect writes; remove the link or lock its target's path`,
        err,
      );
    case "ENXIO": // open(2) of a Unix socket
      return notRegular(path, "a socket");
    case "ENOTDIR":
      return new FileLockPathError(
        "EFLOCKPATH",
        path,
        path.endsWith("/")
          ? `Cannot use ${path} as a lock file: the path ends with a slash; name a file, e.g. ${path}.lock`
          : `Cannot use ${path} as a lock file: one of its parents is a file, not a directory`,
        err,
      );
    case "EACCES":
    case "EPERM":
    case "EROFS": {
      const owner = code === "EROFS" ? undefined : ownership(path);
      const message =
        owner !== undefined
          ? `Cannot open the lock file ${path} for ${access === "read" ? "reading" : "reading and writing"} (${code}): it exists, ${owner}, and this process (uid ${process.getuid?.() ?? "?"}) may not. It was probably created by another user, e.g. a run under sudo: remove it, or fix its owner or mode`
          : code === "EROFS"
            ? `Cannot create or open ${path} (EROFS): it is on a read-only file system; pick a writable location`
            : `Cannot create ${path} (${code}): this process may not create files in ${dirname(path)}; check the directory's permissions, or pick a writable location`;
      return new FileLockPathError("EFLOCKACCES", path, message, err);
    }
    case "ENOENT":
      return new FileLockPathError(
        "EFLOCKPATH",
        path,
        `Cannot create ${path}: its directory keeps disappearing or cannot be created`,
        err,
      );
    default:
      return err;
  }
}

function notRegular(path: string, what: string): FileLockPathError {
  return new FileLockPathError(
    "EFLOCKPATH",
    path,
    `Cannot use ${path} as a lock file: it is ${what}, not a regular file; remove it or lock another path`,
  );
}

/**
 * Creates the missing directories above a lock file, one level at a time. (Not
 * `mkdirSync(dir, { recursive: true })`: on Node 20 that loops forever when a parent
 * refuses creation with ENOENT, as under /proc.)
 */
function mkdirParents(dir: string): void {
  const missing: string[] = [];
  let d = dir;
  for (;;) {
    try {
      mkdirSync(d, 0o777);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") break;
      const parent = dirname(d);
      if (code !== "ENOENT" || parent === d) throw err;
      missing.push(d);
      d = parent;
    }
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]!, 0o777);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

/**
 * Opens (creating it and its parents if needed) the lock file read-write, without
 * following a symlink and without blocking. Mode 0o666 is filtered by the umask, like
 * any new file.
 */
export function openLockFile(path: string): OpenLockFile {
  let fd = -1;
  for (let attempt = 0; ; attempt++) {
    try {
      fd = openSync(path, OPEN_RW, 0o666);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || attempt === 2) {
        throw pathError(err, path);
      }
      try {
        mkdirParents(dirname(path));
      } catch (mkdirErr) {
        throw pathError(mkdirErr, path);
      }
    }
  }
  return checkRegular(fd, path);
}

/** Opens an existing lock file read-only, without blocking; `undefined` if there is none. */
export function openLockFileReadOnly(path: string): OpenLockFile | undefined {
  let fd: number;
  try {
    fd = openSync(path, OPEN_RO);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw pathError(err, path, "read");
  }
  return checkRegular(fd, path);
}

/** Only a regular file can be a lock file; FIFOs, sockets and devices are refused. */
function checkRegular(fd: number, path: string): OpenLockFile {
  let stat: Stats;
  try {
    stat = fstatSync(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (stat.isFile()) return { fd, ino: stat.ino, dev: stat.dev };
  closeSync(fd);
  if (stat.isDirectory()) throw pathError(Object.assign(new Error(), { code: "EISDIR" }), path);
  throw notRegular(
    path,
    stat.isFIFO() ? "a FIFO" : stat.isSocket() ? "a socket" : "a device or other special file",
  );
}

/**
 * Does `path` still name the inode we opened? If the file was deleted or replaced, a
 * lock on our inode protects nothing anyone else will look at. (Numbers, not bigint
 * stats: inode numbers stay below 2^53 on the file systems Node runs on, and bigint
 * stats cost a microsecond more on the fast path.)
 */
export function stillNamed(path: string, file: OpenLockFile): boolean {
  return statIfNamed(path, file) !== undefined;
}

/** As {@link stillNamed}, returning the `lstat` (its size and mtime are used too). */
export function statIfNamed(path: string, file: OpenLockFile): Stats | undefined {
  const now = lstatSync(path, { throwIfNoEntry: false });
  return now !== undefined && now.ino === file.ino && now.dev === file.dev ? now : undefined;
}

/**
 * A released exclusive holder marks its record as released by setting the lock file's
 * mtime to this process's marker: a moment in 1970 (the PID, in seconds), which no real
 * write produces. Cheaper than overwriting the record (one `futimes`), and it tells the
 * next acquirer of this process that nobody has written since (no need to read the
 * token back). Markers of every process are below {@link RELEASED_BELOW_MS}.
 */
export const RELEASED_MARK_S = process.pid;
/** Any mtime before 2004 (2^30 s) is a release marker, not a real write. */
export const RELEASED_BELOW_MS = 2 ** 30 * 1000;
