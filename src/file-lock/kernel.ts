// The kernel side of a file lock, one synchronous step at a time: each step is a few
// syscalls of a microsecond or two on a local file, taken on the main thread so that the
// uncontended path never waits for the thread pool. Waiting between steps is wake.ts's.
import { futimesSync } from "node:fs";
import { dropFile, dropGate, type Entry, gateFile, mainFile } from "./entry.js";
import { readHead, tokenRecord, writeOver } from "./holder-record.js";
import type { FsExt } from "./load-fs-ext.js";
import { RELEASED_MARK_S, statIfNamed, stillNamed } from "./lock-file.js";

export const BUSY = 0;
export const LOCKED = 1;
/** The path names another inode now: the descriptor was dropped; try again at once. */
export const REPLACED = 2;

/** Locks `fd` without waiting. `false` when another open file description holds it. */
export function tryFlock(fsx: FsExt, fd: number, flags: "exnb" | "shnb"): boolean {
  for (;;) {
    try {
      fsx.flockSync(fd, flags);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EAGAIN" || code === "EWOULDBLOCK") return false;
      if (code !== "EINTR") throw err;
    }
  }
}

/** Gives back the lock on `fd`, keeping the descriptor open for next time. */
export function unlock(fsx: FsExt, fd: number): void {
  fsx.flockSync(fd, "un");
}

/**
 * Changes the file's timestamps: a waiter watching it wakes up. For releases that write
 * nothing (shared holders, gates, lock files holding content that is not ours).
 */
export function touch(fd: number): void {
  const now = Date.now() / 1000;
  try {
    futimesSync(fd, now, now);
  } catch {
    // A waiter that misses this finds the release by polling.
  }
}

/**
 * One attempt on the lock file: lock without waiting, then check that the path still
 * names the locked inode (a lock on a deleted or replaced file protects nothing).
 */
export function lockMain(fsx: FsExt, e: Entry, flags: "exnb" | "shnb"): number {
  const file = mainFile(e);
  if (!tryFlock(fsx, file.fd, flags)) return BUSY;
  e.stat = statIfNamed(e.path, file);
  if (e.stat !== undefined) return LOCKED;
  dropFile(e);
  return REPLACED;
}

/** As {@link lockMain}, for the writer gate (always exclusive; `flags` is for symmetry). */
export function lockGate(fsx: FsExt, e: Entry, _flags?: "exnb" | "shnb"): number {
  const gate = gateFile(e);
  if (!tryFlock(fsx, gate.fd, "exnb")) return BUSY;
  if (stillNamed(e.gatePath, gate)) return LOCKED;
  dropGate(e);
  return REPLACED;
}

/** Opens the gate again and wakes whoever waits for it. */
export function unlockGate(fsx: FsExt, e: Entry): void {
  const gate = e.gate;
  if (gate === undefined) return;
  unlock(fsx, gate.fd);
  touch(gate.fd);
}

/** What a grant wrote into the lock file. */
export interface Stamp {
  /** The grant's fencing token; `undefined` when the file holds content that is not ours. */
  token: number | undefined;
  /** Length of the content now in the file (a release writes over all of it). */
  length: number;
}

/**
 * Gives the grant its token: one more than the last one given for this file, written
 * back under the lock (with the holder record for an exclusive grant, alone for a
 * shared one). The caller holds the lock exclusively, or shared and the gate; either way
 * no other grant of this file can read or write the token meanwhile.
 *
 * @throws the system error when the token cannot be written: a grant without a lasting
 *   token would let the next one repeat it, so the caller gives the lock back.
 */
export function stamp(e: Entry, record: ((token: number) => string) | undefined): Stamp {
  const fd = e.file!.fd;
  const before = lastToken(e);
  if (!before.ours) return { token: undefined, length: before.length };
  const token = before.token + 1;
  const text = record === undefined ? tokenRecord(token) : record(token);
  return { token, length: writeOver(fd, text, before.length) };
}

/**
 * The last token given out for the file: from this process's own last release when the
 * file still carries its release marker and length (nobody wrote since), else read back.
 */
function lastToken(e: Entry): { ours: boolean; token: number; length: number } {
  const r = e.released;
  e.released = undefined;
  const st = e.stat;
  if (r !== undefined && st !== undefined && st.mtimeMs === MARK_MS && st.size === r.length) {
    return { ours: true, token: r.token, length: r.length };
  }
  return readHead(e.file!.fd);
}

const MARK_MS = RELEASED_MARK_S * 1000;

/**
 * Releases an exclusive grant: the record is marked released (the file's mtime set to
 * this process's release marker, see lock-file.ts), so the released holder is never
 * named again, then the lock is given back. Marking is what wakes watchers; it comes a
 * syscall before the unlock, and a waiter takes far longer than that to wake, so it
 * finds the lock free (and if it was preempted in between and does not, wake.ts looks
 * again a moment later). In that order because the mark must be made while the lock is
 * ours: made after, it could land on the next holder's record.
 */
export function releaseExclusive(fsx: FsExt, e: Entry, s: Stamp): void {
  const fd = e.file!.fd;
  let marked = false;
  if (s.token !== undefined) {
    try {
      futimesSync(fd, RELEASED_MARK_S, RELEASED_MARK_S);
      marked = true;
    } catch {
      // Then overwrite the record with the bare token instead.
      try {
        writeOver(fd, tokenRecord(s.token), s.length);
      } catch {
        // Should even that fail (EIO), the lock is still given back below.
      }
    }
  }
  e.released = marked ? { token: s.token!, length: s.length } : undefined;
  unlock(fsx, fd);
  if (s.token === undefined) touch(fd);
}

/** Releases one shared grant; the last one of this process gives the kernel lock back. */
export function releaseShared(fsx: FsExt, e: Entry): void {
  if (--e.shared > 0) return;
  const fd = e.file!.fd;
  unlock(fsx, fd);
  touch(fd);
}
