// A failed write's system error, told apart by what it means for the caller: the path
// cannot hold the file (a typed AtomicWriteError saying why), or the data path failed
// (ENOSPC, EFBIG, EIO: passed through as they are).
import fs from "node:fs";
import { dirname } from "node:path";
import { AtomicWriteError } from "./errors.js";

const PATH_SYSCALLS = new Set(["open", "lstat", "readlink", "realpath", "rename"]);

/** Turns errors that mean "this path cannot hold the file" into typed errors. */
export function classify(err: unknown, file: string, target: string): unknown {
  if (!(err instanceof Error) || err instanceof AtomicWriteError) return err;
  const e = err as NodeJS.ErrnoException;
  // Failures of the data path itself (ENOSPC, EFBIG, EIO) are not about the path.
  if (e.syscall !== undefined && !PATH_SYSCALLS.has(e.syscall)) return err;
  const dir = dirname(target);
  const dirStat = fs.statSync(dir, { throwIfNoEntry: false });
  switch (e.code) {
    case "EACCES":
    case "EPERM":
    case "EROFS": {
      if (e.syscall === "rename" && dirStat !== undefined && (dirStat.mode & 0o1000) !== 0) {
        // The temp file was created, so the directory is writable; the rename over the
        // target is what a sticky directory (/tmp) refuses to anyone but its owner.
        const owner = fs.statSync(target, { throwIfNoEntry: false })?.uid;
        return new AtomicWriteError(
          "EDIRNOTWRITABLE",
          file,
          `Cannot replace ${target} (${e.code}): ${dir} is a sticky directory (like /tmp), where only a file's owner may replace it, and it belongs to uid ${owner ?? "?"}, not to this process (uid ${process.getuid?.() ?? "?"}). Write it as its owner, or use a path in a directory you own`,
          { cause: err },
        );
      }
      return new AtomicWriteError(
        "EDIRNOTWRITABLE",
        file,
        `Cannot write ${file}: no file can be created in ${dir} (${e.code}); check its permissions and mount`,
        { cause: err },
      );
    }
    case "ENOENT":
    case "ENOTDIR":
      if (e.code === "ENOENT" && dirStat?.isDirectory()) {
        // The directory is there: what went missing is our temp file, between its
        // creation and the rename (a cleanup job removing *.tmp files, say).
        return new AtomicWriteError(
          "ETEMPVANISHED",
          file,
          `Cannot write ${file}: its temp file ${e.path ?? "in " + dir} was removed by someone else before it could be renamed into place; ${target} is unchanged. Keep cleanup jobs away from .*.tmp files of live processes (sweepTempFiles only removes those of dead ones)`,
          { cause: err },
        );
      }
      return new AtomicWriteError(
        "EDIRMISSING",
        file,
        dirStat !== undefined && !dirStat.isDirectory()
          ? `Cannot write ${file}: ${dir} is a file, not a directory (${e.code})`
          : `Cannot write ${file}: the directory ${dir} does not exist (${e.code}); create it first`,
        { cause: err },
      );
    case "EISDIR":
      return new AtomicWriteError(
        "EPATHISDIR",
        file,
        `Cannot write ${file}: it is a directory; pass the path of a file inside it`,
        { cause: err },
      );
    default:
      return err;
  }
}
