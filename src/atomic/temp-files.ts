// The temp files writeFileAtomic writes through: their names, the ones in flight in this
// process (removed if it exits), and the sweep that removes those of dead processes.
import { randomFillSync } from "node:crypto";
import fs from "node:fs";
import { join, resolve } from "node:path";
import { onExit } from "signal-exit";
import { processWide } from "../internal/process-state.js";
import { isProcessAlive } from "../process/index.js";
import { io } from "./io.js";
import { toPath } from "./write-args.js";

// NAME_MAX is 255 bytes on Linux and macOS; the temp name adds at most ~40 to the base.
const MAX_BASE_BYTES = 200;
// `s`: a base name may contain a newline, and its temp file must still be recognised.
const TEMP_NAME = /^\.(.+)\.(\d+)\.([0-9a-f]{16})\.tmp$/s;

// Random bytes are drawn from the CSPRNG in blocks: one call per 128 temp names instead
// of one per name (each call costs more than the hex it returns).
const randomPool = Buffer.alloc(1024);
let randomOffset = randomPool.length;

/** A fresh temp file name for `base`: `.<base>.<pid>.<random>.tmp`. */
export function tempName(base: string): string {
  let b = base;
  if (Buffer.byteLength(b) > MAX_BASE_BYTES) {
    b = Buffer.from(b)
      .subarray(0, MAX_BASE_BYTES)
      .toString()
      .replace(/\uFFFD+$/, "");
  }
  if (randomOffset === randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const hex = randomPool.toString("hex", randomOffset, randomOffset + 8);
  randomOffset += 8;
  return `.${b}.${process.pid}.${hex}.tmp`;
}

// Temp files in flight in this process, removed synchronously if the process exits or
// is killed by a catchable signal. Installing the signal-exit hook costs ~20 sigaction
// calls (a third of a millisecond), so it stays installed while writes keep coming and
// is removed once the process has been idle for a moment: an idle process keeps its
// default signal behaviour, a busy one does not pay for the hook on every write.
// Shared with the other build, if loaded: a sweep by either never removes the other's.
const inFlight = processWide("tempFilesInFlight", () => new Set<string>());
let active = 0;
let removeExitHook: (() => void) | undefined;
let idleTimer: ReturnType<typeof setTimeout> | undefined;
const HOOK_IDLE_MS = 200;

/** @internal Marks the start of a write; pair with `endWrite` in a `finally`. */
export function beginWrite(): void {
  active++;
  if (removeExitHook === undefined) {
    removeExitHook = onExit(removeInFlight);
    // signal-exit also listens for SIGXFSZ and re-raises it, which turns a write past
    // RLIMIT_FSIZE from the EFBIG that Node.js returns (it ignores SIGXFSZ) into death of
    // the process. A second listener tells signal-exit somebody else handles it, so the
    // write fails with EFBIG, the temp file is removed and the target stays intact.
    if (process.platform !== "win32") process.on("SIGXFSZ", ignoreSignal);
  }
}

function ignoreSignal(): void {}

/** @internal */
export function endWrite(): void {
  active--;
  if (active === 0 && idleTimer === undefined) {
    idleTimer = setTimeout(removeHookIfIdle, HOOK_IDLE_MS);
    idleTimer.unref();
  }
}

function removeHookIfIdle(): void {
  idleTimer = undefined;
  if (active === 0 && removeExitHook !== undefined) {
    removeExitHook();
    removeExitHook = undefined;
    process.removeListener("SIGXFSZ", ignoreSignal);
  }
}

// Absolute paths, so that a sweep of the same directory spelled differently still
// recognises them.
export function track(tmp: string): void {
  inFlight.add(resolve(tmp));
}

export function untrack(tmp: string): void {
  inFlight.delete(resolve(tmp));
}

function removeInFlight(): void {
  for (const tmp of inFlight) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // Already renamed or never created: nothing to clean.
    }
  }
  inFlight.clear();
}

/** @internal The temp files this process is writing right now. */
export function tempFilesInFlight(): ReadonlySet<string> {
  return inFlight;
}

/** @internal Parses a temp file name made by this module. */
export function parseTempName(name: string): { base: string; pid: number } | undefined {
  const m = TEMP_NAME.exec(name);
  if (m === null) return undefined;
  const pid = Number(m[2]);
  return Number.isSafeInteger(pid) && pid > 0 ? { base: m[1]!, pid } : undefined;
}

/**
 * Options of {@link sweepTempFiles}.
 * - `maxAgeMs`: also remove temp files of owners that look alive when the file has not
 *   been modified for this long (a live PID may be a new process that reused the dead
 *   owner's PID). Omitted: only files of owners that are gone are removed.
 */
export interface SweepOptions {
  maxAgeMs?: number | undefined;
}

/**
 * Removes temp files that {@link writeFileAtomic} left in `dir` when its process died
 * without a chance to clean up (SIGKILL, power cut, OOM killer). A temp file is
 * `.<name>.<pid>.<random>.tmp`; it is removed when process `pid` is no longer alive
 * (by {@link isProcessAlive}), or, with `maxAgeMs`, when it is older than that. Temp
 * files of live writers, including this process's own, are never touched, so the
 * sweep is safe to run at any time, e.g. at startup.
 *
 * **Platform notes:** PIDs are only meaningful on this host; do not sweep a directory
 * that processes on other hosts write to (NFS) without `maxAgeMs` alone deciding, and
 * then pick it far above the longest write.
 *
 * @returns The paths it removed.
 * @throws {TypeError} synchronously, for a bad `dir`; {@link RangeError} for a bad `maxAgeMs`.
 * @throws the system error if `dir` cannot be read.
 *
 * @example
 * ```ts
 * // At startup: clean up after a writer that was SIGKILLed mid-write.
 * const removed = await sweepTempFiles(path.dirname(configPath));
 * if (removed.length > 0) console.warn(`removed ${removed.length} stale temp files`);
 * ```
 */
export function sweepTempFiles(dir: string | URL, options?: SweepOptions): Promise<string[]> {
  const d = toPath(dir);
  const maxAgeMs = options?.maxAgeMs;
  if (maxAgeMs !== undefined && (typeof maxAgeMs !== "number" || !(maxAgeMs >= 0))) {
    throw new RangeError(
      `Expected \`maxAgeMs\` to be a non-negative number, got ${String(maxAgeMs)}`,
    );
  }
  return sweep(d, maxAgeMs);
}

async function sweep(dir: string, maxAgeMs: number | undefined): Promise<string[]> {
  const removed: string[] = [];
  const failed: unknown[] = [];
  const names = await fs.promises.readdir(dir);
  // One file that cannot be checked or removed must not keep the rest from being swept:
  // every name is tried, and the failures are reported together at the end.
  for (const name of names) {
    const parsed = parseTempName(name);
    if (parsed === undefined) continue;
    const path = join(dir, name);
    if (inFlight.has(resolve(path))) continue;
    try {
      let stale = !isProcessAlive(parsed.pid);
      if (!stale && maxAgeMs !== undefined) {
        const st = await io.lstat(path);
        stale = st !== undefined && Date.now() - st.mtimeMs > maxAgeMs;
      }
      if (!stale) continue;
      await io.unlink(path);
      removed.push(path);
    } catch (err) {
      // ENOENT: somebody else swept it first.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") failed.push(err);
    }
  }
  if (failed.length > 0) {
    throw new AggregateError(
      failed,
      `sweepTempFiles removed ${removed.length} stale temp file(s) in ${dir} but could not check or remove ${failed.length} other(s); see \`errors\``,
    );
  }
  return removed;
}
