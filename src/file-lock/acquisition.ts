// One acquisition of a file lock, from the in-process grant to the kernel grant: the
// synchronous fast path, and the wait (writer gate, then lock file) when it is busy.
import { fstatSync } from "node:fs";
import { AbortError, hasCode } from "../errors.js";
import type { Releaser } from "../internal/permit.js";
import { type Entry, leave, watchOf } from "./entry.js";
import { FileLock, type FileLockHandle } from "./file-lock-handle.js";
import { type Stage, timeoutError } from "./holder-message.js";
import { buildRecord } from "./holder-record.js";
import {
  BUSY,
  LOCKED,
  lockGate,
  lockMain,
  REPLACED,
  type Stamp,
  stamp,
  unlock,
  unlockGate,
} from "./kernel.js";
import type { FsExt } from "./load-fs-ext.js";
import { RELEASED_BELOW_MS } from "./lock-file.js";
import { Wake } from "./wake.js";

/** A validated acquire request. */
export interface Request {
  path: string;
  exclusive: boolean;
  /** The caller's `holder` fields as a JSON fragment ("" for none). */
  holder: string;
}

/** How soon a waiter that caught a release between its mark and its unlock looks again. */
const SOON_MS = 0.5;

/** A path replaced this many times in a row counts as busy, so a loop replacing it cannot hold us. */
const MAX_REPLACED = 8;

/** One lock step, retried at once while the file turns out replaced (bounded). */
function retrying(
  step: (fsx: FsExt, e: Entry, flags: "exnb" | "shnb") => number,
  fsx: FsExt,
  e: Entry,
  flags: "exnb" | "shnb",
): number {
  for (let i = 0; ; i++) {
    const s = step(fsx, e, flags);
    if (s !== REPLACED) return s;
    if (i >= MAX_REPLACED) return BUSY;
  }
}

/**
 * The kernel side of one acquisition, for a caller that holds the in-process lock.
 *
 * Exclusive: lock the file without waiting; if it is busy, take the writer gate (which
 * keeps new shared holders of every process out) and wait for the file while holding it.
 * Shared: pass the gate (wait while a writer holds it), then lock the file shared. Every
 * grant takes its fencing token while nobody else can (the file exclusively, or the file
 * shared and the gate), then gives the gate back.
 */
export class Acquisition {
  readonly #fsx: FsExt;
  readonly #r: Request;
  readonly #entry: Entry;
  #local: Releaser | undefined;
  /** Shared acquisitions of this process pass the gate one at a time (one descriptor). */
  #gateTurn: Releaser | undefined;
  #gateHeld = false;
  #stage: Stage = "main";
  #wake: Wake | undefined;
  #waking: unknown;

  /** For a caller that entered `entry` and holds its in-process lock. */
  constructor(fsx: FsExt, r: Request, entry: Entry, localLock: Releaser) {
    this.#fsx = fsx;
    this.#r = r;
    this.#local = localLock;
    this.#entry = entry;
  }

  /**
   * Goes as far as it can without waiting: the handle, or `undefined` with the stage it
   * has to wait at. With `mayWait` false (a try), an exclusive request does not take
   * the gate. Throws after giving back everything.
   */
  trySync(mayWait: boolean): FileLockHandle | undefined {
    try {
      return this.#r.exclusive ? this.#tryExclusive(mayWait) : this.#tryShared();
    } catch (err) {
      this.abandon();
      throw err;
    }
  }

  #tryExclusive(mayWait: boolean): FileLockHandle | undefined {
    const fsx = this.#fsx;
    const e = this.#entry;
    if (retrying(lockMain, fsx, e, "exnb") === LOCKED) return this.#grant();
    if (!mayWait) return undefined;
    if (!this.#gateHeld) {
      if (retrying(lockGate, fsx, e, "exnb") !== LOCKED) {
        this.#stage = "gate";
        return undefined;
      }
      this.#gateHeld = true;
      // The holder may have left while we took the gate.
      if (retrying(lockMain, fsx, e, "exnb") === LOCKED) return this.#grant();
    }
    this.#stage = "main";
    return undefined;
  }

  #tryShared(): FileLockHandle | undefined {
    const fsx = this.#fsx;
    const e = this.#entry;
    if (this.#gateTurn === undefined) {
      this.#gateTurn = e.gateMutex.tryAcquire();
      if (this.#gateTurn === undefined) {
        this.#stage = "local";
        return undefined;
      }
    }
    if (!this.#gateHeld) {
      if (retrying(lockGate, fsx, e, "exnb") !== LOCKED) {
        this.#stage = "gate";
        return undefined;
      }
      this.#gateHeld = true;
    }
    if (e.shared === 0 && retrying(lockMain, fsx, e, "shnb") !== LOCKED) {
      this.#stage = "main";
      return undefined;
    }
    return this.#grant();
  }

  /** Stamps the token (and the record) and hands out the handle; the gate goes back. */
  #grant(): FileLockHandle {
    const e = this.#entry;
    const r = this.#r;
    let s: Stamp;
    try {
      s = stamp(e, r.exclusive ? (token) => buildRecord(token, r.holder) : undefined);
    } catch (err) {
      // No lasting token, no grant: the next holder would repeat it.
      if (r.exclusive || e.shared === 0) unlock(this.#fsx, e.file!.fd);
      throw err;
    }
    if (!r.exclusive) e.shared++;
    this.#openGate();
    const handle = new FileLock(
      r.path,
      r.exclusive ? "exclusive" : "shared",
      this.#fsx,
      e,
      this.#local!,
      s,
    );
    this.#local = undefined;
    this.#closeWake();
    return handle;
  }

  #openGate(): void {
    if (this.#gateHeld) {
      this.#gateHeld = false;
      unlockGate(this.#fsx, this.#entry);
    }
    this.#gateTurn?.release();
    this.#gateTurn = undefined;
  }

  /**
   * Waits until the kernel grants, `deadline` passes (performance.now() time, or
   * undefined) or `signal` aborts. Rejects after giving back everything.
   */
  async wait(
    signal: AbortSignal | undefined,
    deadline: number | undefined,
    timeoutMs: number | undefined,
  ): Promise<FileLockHandle> {
    try {
      for (;;) {
        if (signal?.aborted) throw new AbortError(signal.reason);
        const left =
          deadline === undefined ? Number.POSITIVE_INFINITY : deadline - performance.now();
        if (left <= 0) throw this.#timeout(timeoutMs!);
        if (this.#stage === "local") {
          try {
            this.#gateTurn = await this.#entry.gateMutex.acquire({
              signal,
              timeoutMs: deadline === undefined ? undefined : left,
            });
          } catch (err) {
            if (hasCode(err, "ELOCKTIMEOUT")) throw this.#timeout(timeoutMs!);
            throw err;
          }
        } else if (!this.#watching()) {
          // Watch first, then look again: a release between the last look and the
          // watch would otherwise go unnoticed until the next poll.
          this.#watch(signal);
        } else {
          await this.#wake!.next(left, this.#releasing() ? SOON_MS : undefined);
        }
        const handle = this.trySync(true);
        if (handle !== undefined) return handle;
      }
    } catch (err) {
      this.abandon();
      throw err;
    }
  }

  /**
   * Whether the change that woke us was an exclusive holder's release caught between
   * its mark and its unlock (the mark comes first, see kernel.ts): then look again
   * soon rather than at the next poll. Any other change (a new holder's record) means
   * the lock is simply taken.
   */
  #releasing(): boolean {
    const file = this.#entry.file;
    if (this.#stage !== "main" || file === undefined || !this.#wake!.woke) return false;
    try {
      return fstatSync(file.fd).mtimeMs < RELEASED_BELOW_MS;
    } catch {
      return false;
    }
  }

  /** The file we wait on now: the gate, or the lock file (by its open inode). */
  #target(): unknown {
    return this.#stage === "gate" ? this.#entry.gate : this.#entry.file;
  }

  #watching(): boolean {
    return this.#wake !== undefined && this.#waking === this.#target();
  }

  #watch(signal: AbortSignal | undefined): void {
    this.#closeWake();
    this.#waking = this.#target();
    this.#wake = new Wake(watchOf(this.#entry, this.#stage === "gate" ? "gate" : "main"), signal);
  }

  #closeWake(): void {
    this.#wake?.close();
    this.#wake = undefined;
    this.#waking = undefined;
  }

  #timeout(timeoutMs: number) {
    return timeoutError(
      this.#fsx,
      this.#r.path,
      this.#r.exclusive,
      this.#entry.local.readers,
      this.#stage,
      timeoutMs,
    );
  }

  /** Gives back whatever this acquisition took. Idempotent. */
  abandon(): void {
    this.#closeWake();
    try {
      this.#openGate();
    } finally {
      const localLock = this.#local;
      if (localLock !== undefined) {
        this.#local = undefined;
        leave(this.#entry);
        localLock.release();
      }
    }
  }
}
