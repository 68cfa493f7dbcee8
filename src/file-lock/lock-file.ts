import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
} from "node:fs";
import { dirname } from "node:path";
import { FileLockPathError } from "./errors.js";

// O_NOFOLLOW: a symlink planted at the lock path must not make us create, lock or write
// into the file it points to. (libuv adds O_CLOEXEC itself, so child processes never
// inherit the descriptor and cannot keep the lock alive after we die.)
const OPEN_RW = constants.O_RDWR | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);
const OPEN_RO = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

/** An open lock file and the identity of the inode behind the descriptor. */
export interface OpenLockFile {
  fd: number;
  stat: BigIntStats;
}

/** Turns a system error on `path` into the typed error callers can branch on. */
export function pathError(err: unknown, path: string): unknown {
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
    case "ENOTDIR":
      return new FileLockPathError(
        "EFLOCKPATH",
        path,
        `Cannot use ${path} as a lock file: one of its parents is not a directory`,
        err,
      );
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new FileLockPathError(
        "EFLOCKACCES",
        path,
        `Cannot create or open ${path} for reading and writing (${code}): check the permissions of the file and its directory, or pick a writable location`,
        err,
      );
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
 * following a symlink. Mode 0o666 is filtered by the umask, like any new file.
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

/** Opens an existing lock file read-only; `undefined` if there is none. */
export function openLockFileReadOnly(path: string): OpenLockFile | undefined {
  let fd: number;
  try {
    fd = openSync(path, OPEN_RO);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw pathError(err, path);
  }
  return checkRegular(fd, path);
}

function checkRegular(fd: number, path: string): OpenLockFile {
  let stat: BigIntStats;
  try {
    stat = fstatSync(fd, { bigint: true });
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (stat.isFile()) return { fd, stat };
  closeSync(fd);
  if (stat.isDirectory()) throw pathError(Object.assign(new Error(), { code: "EISDIR" }), path);
  throw new FileLockPathError(
    "EFLOCKPATH",
    path,
    `Cannot use ${path} as a lock file: it is not a regular file (a FIFO, socket or device)`,
  );
}

/**
 * After locking: does `path` still name the inode we locked? If the file was deleted or
 * replaced while we waited, the lock we got protects nothing anyone else will look at.
 * Returns the current stat (its size tells whether there is a record to overwrite), or
 * `undefined` when the path names something else now.
 */
export function stillNamed(path: string, locked: BigIntStats): BigIntStats | undefined {
  const now = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  if (now === undefined || now.ino !== locked.ino || now.dev !== locked.dev) return undefined;
  return now;
}
