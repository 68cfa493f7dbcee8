import { closeSync, type Stats } from "node:fs";
import { processWide } from "../internal/process-state.js";
import { Mutex } from "../mutex.js";
import { RWLock } from "../rw-lock.js";
import { FileWatch } from "./file-watch.js";
import { type OpenLockFile, openLockFile } from "./lock-file.js";

/**
 * This process's state for one lock file (by absolute path): its descriptor, kept open
 * between acquisitions so the fast path costs a flock instead of an open and a close;
 * the descriptor of its writer gate; and how many of this process's shared holders
 * share the one kernel lock.
 */
export interface Entry {
  readonly path: string;
  readonly gatePath: string;
  /** The lock file, opened on first use; `undefined` after it was found replaced. */
  file: OpenLockFile | undefined;
  /** The writer gate `<path>.gate`, opened on first use. */
  gate: OpenLockFile | undefined;
  /** One party of this process at a time holds the gate (they share its descriptor). */
  readonly gateMutex: Mutex;
  /**
   * This process's FIFO queue for the path: every acquire queues here first, so only
   * the head (the readers at its head, in shared mode) touches the kernel. It lives as
   * long as the entry, which stays while anyone holds or waits (and a moment after), so
   * the uncontended path allocates no queue.
   */
  readonly local: RWLock;
  /** Holders and waiters of this process using the entry; 0 = idle, may be closed. */
  users: number;
  /** Shared holders of this process; the kernel's shared lock is held while > 0. */
  shared: number;
  /** When it fell idle (performance.now()). */
  idleSince: number;
  /** Watches on the lock file and the gate, made by the first waiter and kept. */
  watches: { main?: FileWatch; gate?: FileWatch };
  /** The lock file's `lstat` from the last identity check (reused by the grant). */
  stat: Stats | undefined;
  /**
   * What this process's last exclusive release left in the file (its token and the
   * length of its content): while the file still carries this process's release marker,
   * nobody has written since, and the next grant needs no read.
   */
  released: { token: number; length: number } | undefined;
}

/** Idle entries kept open at most, and for how long: a bound on descriptors held for speed. */
export const MAX_IDLE = 64;
export const IDLE_MS = 1_000;

// Process-wide (see process-state.ts): both builds share one descriptor per lock file.
const entries = processWide("fileLockEntries", () => new Map<string, Entry>());
const idle = processWide("fileLockIdle", () => new Set<Entry>());
let sweeper: ReturnType<typeof setTimeout> | undefined;

/**
 * The entry for `path`, marked in use (by a holder, or a waiter of this process, from
 * the moment it queues). Pair with {@link leave}.
 */
export function enter(path: string): Entry {
  let e = entries.get(path);
  if (e === undefined) {
    e = {
      path,
      gatePath: `${path}.gate`,
      file: undefined,
      gate: undefined,
      gateMutex: new Mutex(),
      local: new RWLock(),
      users: 0,
      shared: 0,
      idleSince: 0,
      watches: {},
      stat: undefined,
      released: undefined,
    };
    entries.set(path, e);
  } else if (e.users === 0) {
    idle.delete(e);
  }
  e.users++;
  return e;
}

/** Marks one use of `e` finished; an idle entry is closed later, or at once past {@link MAX_IDLE}. */
export function leave(e: Entry): void {
  if (--e.users > 0) return;
  if (e.file === undefined && e.gate === undefined) {
    entries.delete(e.path);
    return;
  }
  e.idleSince = performance.now();
  idle.add(e);
  if (idle.size > MAX_IDLE) {
    // The longest idle first: a Set iterates in insertion order.
    for (const old of idle) {
      close(old);
      if (idle.size <= MAX_IDLE) break;
    }
  }
  if (sweeper === undefined && idle.size > 0) {
    sweeper = setTimeout(sweep, IDLE_MS);
    sweeper.unref();
  }
}

function sweep(): void {
  sweeper = undefined;
  const now = performance.now();
  for (const e of idle) {
    if (now - e.idleSince < IDLE_MS) break;
    close(e);
  }
  if (idle.size > 0) {
    sweeper = setTimeout(sweep, IDLE_MS);
    sweeper.unref();
  }
}

function close(e: Entry): void {
  idle.delete(e);
  entries.delete(e.path);
  dropFile(e);
  if (e.gate !== undefined) closeSync(e.gate.fd);
  e.gate = undefined;
  e.watches.main?.close();
  e.watches.gate?.close();
  e.watches = {};
}

/**
 * The process's watch on the entry's lock file or gate, as open now. A watch follows the
 * inode it was made on, so a replaced file gets a new one.
 */
export function watchOf(e: Entry, which: "main" | "gate"): FileWatch {
  const target = which === "main" ? e.file : e.gate;
  let w = e.watches[which];
  if (w === undefined || w.target !== target) {
    w?.close();
    w = new FileWatch(which === "main" ? e.path : e.gatePath, target);
    e.watches[which] = w;
  }
  return w;
}

/** The open lock file of `e`, opening (and creating) it if needed. */
export function mainFile(e: Entry): OpenLockFile {
  e.file ??= openLockFile(e.path);
  return e.file;
}

/** The open gate file of `e`. */
export function gateFile(e: Entry): OpenLockFile {
  e.gate ??= openLockFile(e.gatePath);
  return e.gate;
}

/** Closes the lock file's descriptor (giving back any lock on it): it names another inode now. */
export function dropFile(e: Entry): void {
  if (e.file !== undefined) closeSync(e.file.fd);
  e.file = undefined;
  e.stat = undefined;
  e.released = undefined;
}

/** As {@link dropFile}, for the gate. */
export function dropGate(e: Entry): void {
  if (e.gate !== undefined) closeSync(e.gate.fd);
  e.gate = undefined;
}

/** Entries open right now, for tests: descriptors held for speed must stay bounded. */
export function openEntries(): number {
  return entries.size;
}

/**
 * Closes every idle entry now, as the sweep would a second later. For tests that count
 * descriptors: what a finished acquisition leaves open must be exactly the cache.
 * @internal
 */
export function closeIdleFileLocks(): void {
  for (const e of [...idle]) close(e);
}
