// The kernel side of a file lock, one synchronous step at a time: each step is a few
// syscalls of a microsecond or two on a local file, taken on the main thread so that the
// uncontended path never waits for the thread pool. Waiting between steps is wake.ts's.
import { futimesSync } from "node:fs";
import { dropFile, dropGate, type Entry, gateFile, mainFile } from "./entry.js";
import { readHead, tokenRecord, writeOver } from "./holder-record.js";
import type { FsExt } from "./load-fs-ext.js";
import { stillNamed } from "./lock-file.js";

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
  if (stillNamed(e.path, file)) return LOCKED;
  dropFile(e);
  return REPLACED;
}

/** As {@link lockMain}, for the writer gate (always exclusive). */
export function lockGate(fsx: FsExt, e: Entry): number {
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
  const head = readHead(fd);
  if (!head.ours) return { token: undefined, length: head.length };
  const token = head.token + 1;
  const text = record === undefined ? tokenRecord(token) : record(token);
  return { token, length: writeOver(fd, text, head.length) };
}

/**
 * Releases an exclusive grant: the record becomes the bare token (so the released holder
 * is never named again, and the next grant counts on from it), then the lock is given
 * back. The write is what wakes watchers; it comes a syscall before the unlock, and a
 * waiter takes far longer than that to wake, so it finds the lock free (and if it was
 * preempted in between and does not, wake.ts looks again a moment later). That spares a
 * touch per release on the fast path.
 */
export function releaseExclusive(fsx: FsExt, e: Entry, s: Stamp): void {
  const fd = e.file!.fd;
  let wrote = false;
  if (s.token !== undefined) {
    try {
      writeOver(fd, tokenRecord(s.token), s.length);
      wrote = true;
    } catch {
      // Overwriting bytes already on disk allocates nothing; should it fail anyway (EIO),
      // the lock is still given back below.
    }
  }
  unlock(fsx, fd);
  if (!wrote) touch(fd);
}

/** Releases one shared grant; the last one of this process gives the kernel lock back. */
export function releaseShared(fsx: FsExt, e: Entry): void {
  if (--e.shared > 0) return;
  const fd = e.file!.fd;
  unlock(fsx, fd);
  touch(fd);
}
