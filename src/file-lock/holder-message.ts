import { closeSync } from "node:fs";
import { LockTimeoutError } from "../errors.js";
import { currentRecord, describeRecord } from "./holder-record.js";
import { tryFlock, unlock } from "./kernel.js";
import type { FsExt } from "./load-fs-ext.js";
import { type OpenLockFile, openLockFileReadOnly } from "./lock-file.js";

/** Where a wait gave up: this process's queue, the writer gate, or the lock file itself. */
export type Stage = "local" | "gate" | "main";

/**
 * "held by pid 1234 (deploy) for 12.3 s", for a timeout message. Only names a process
 * that holds the lock at the moment of the check: a record counts only while a probe
 * shows an exclusive holder, and a released holder's record was overwritten by its
 * release. Never blocks: the file is opened without waiting and probed without waiting.
 */
export function describeHolder(
  fsx: FsExt,
  path: string,
  localReaders: number,
  stage: Stage,
): string {
  if (stage === "local" && localReaders > 0) {
    return `held in shared mode by this process (pid ${process.pid})`;
  }
  if (stage === "gate") {
    return "another process is waiting for the exclusive lock ahead of this request (it holds the writer gate), and shared requests queue behind it";
  }
  let file: OpenLockFile | undefined;
  try {
    file = openLockFileReadOnly(path);
    if (file === undefined) return "released just as the wait gave up";
    if (tryFlock(fsx, file.fd, "shnb")) {
      // No exclusive holder. Shared ones, or nobody any more?
      const free = tryFlock(fsx, file.fd, "exnb");
      unlock(fsx, file.fd);
      return free ? "released just as the wait gave up" : "held in shared mode by other processes";
    }
    const record = currentRecord(file.fd);
    if (record !== undefined) return `held by ${describeRecord(record)}`;
  } catch {
    // The message is a courtesy; the timeout is the error.
  } finally {
    if (file !== undefined) closeSync(file.fd);
  }
  return "held by a process that left no holder record (it is writing it this instant, or it locks without interlock, e.g. flock(1))";
}

export function timeoutError(
  fsx: FsExt,
  path: string,
  exclusive: boolean,
  localReaders: number,
  stage: Stage,
  timeoutMs: number,
): LockTimeoutError {
  const mode = exclusive ? "exclusive" : "shared";
  return new LockTimeoutError(
    timeoutMs,
    `Timed out after ${timeoutMs} ms waiting for the ${mode} file lock ${path}: ${describeHolder(fsx, path, localReaders, stage)}`,
  );
}
