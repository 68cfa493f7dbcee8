import { startTimeDarwin } from "./start-time-darwin.js";
import { isZombieState, readProcStat, startTimeLinux } from "./start-time-linux.js";
import { startTimeUnsupported } from "./start-time-unsupported.js";

// One platform file behind this front; a platform we do not know gets the file that
// says so rather than a guess.
const platformStartTime: (pid: number) => number | undefined =
  process.platform === "linux"
    ? startTimeLinux
    : process.platform === "darwin"
      ? startTimeDarwin
      : startTimeUnsupported;

function validatePid(pid: unknown): asserts pid is number {
  // 0 and negative numbers address process groups in kill(2): "is -1 alive?" would
  // ask about every process we may signal, and always answer yes.
  if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid < 1) {
    throw new RangeError(`Expected \`pid\` to be a positive integer, got ${String(pid)}`);
  }
}

/**
 * When the process `pid` started, as an opaque number that stays the same for the life
 * of the process and differs for a later process that reuses the PID; `undefined` when
 * no such process exists or the platform has no source for it.
 *
 * Compare values only for equality, and only with values read on the same host by
 * the same function: the unit differs per platform.
 *
 * **Platform notes:**
 * - Linux: field 22 of `/proc/<pid>/stat` (clock ticks since boot). Cheap (one small
 *   file read). Not converted to wall-clock time on purpose: `btime` in `/proc/stat`
 *   moves with clock adjustments, which would make the same process look different.
 * - macOS: `ps -o lstart= -p <pid>` as milliseconds since the epoch, resolution one
 *   second. Runs `ps` synchronously (a few milliseconds).
 * - Windows and everything else: always `undefined`. A PID alone is all you get there;
 *   {@link isProcessAlive} then cannot detect PID reuse.
 *
 * @param pid A positive integer process id.
 * @throws {RangeError} if `pid` is not a positive integer.
 *
 * @example
 * ```ts
 * const record = { pid: process.pid, startTime: processStartTime(process.pid) };
 * // later, maybe in another process on the same host:
 * if (!isProcessAlive(record.pid, record.startTime)) reclaim(record);
 * ```
 */
export function processStartTime(pid: number): number | undefined {
  validatePid(pid);
  if (pid > MAX_PID) return undefined;
  return platformStartTime(pid);
}

/**
 * No process has a PID above this: pid_t is a signed 32-bit integer (Linux caps PIDs at
 * 2^22, macOS at 99,999). A larger number read from a file can only name nobody, and
 * `process.kill` would throw on it.
 */
const MAX_PID = 2 ** 31 - 1;

function signalZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone we may not signal.
    if ((err as NodeJS.ErrnoException).code === "EPERM") return true;
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}

/**
 * Whether process `pid` is running on this host, and, given the `startTime` recorded
 * for it, whether it is still *that* process rather than a newer one that reused the
 * PID.
 *
 * **Guarantee:** `false` means the process (or, with `startTime`, the process that
 * start time belonged to) is gone; `true` means a process with that PID exists and
 * nothing available contradicts it being the same one.
 *
 * How it decides: `kill(pid, 0)` (`ESRCH` = gone; `EPERM` = exists but is not ours,
 * so alive); on Linux a zombie (exited, not yet reaped) counts as gone, since it holds
 * no descriptors and no locks; then, if `startTime` is given, a different
 * {@link processStartTime} means the PID was reused and the original process is gone.
 *
 * **Platform notes:** where {@link processStartTime} is unsupported (Windows, BSDs) or
 * cannot be read (e.g. `/proc` mounted with `hidepid`), a given `startTime` cannot be
 * checked and the answer rests on the PID alone, erring towards "alive" so that a
 * reclaimer never takes something from a live owner. Only meaningful for PIDs of this
 * host (and PID namespace): compare the record's hostname first.
 *
 * @param pid A positive integer process id.
 * @param startTime The value {@link processStartTime} returned for that process.
 * @throws {RangeError} if `pid` is not a positive integer.
 * @throws {TypeError} if `startTime` is neither `undefined` nor a number.
 *
 * @example
 * ```ts
 * const holder = await readLockHolder("/var/lock/deploy.lock");
 * if (holder && holder.hostname === os.hostname() &&
 *     !isProcessAlive(holder.pid, holder.processStartTime)) {
 *   console.warn(`pid ${holder.pid} is gone`);
 * }
 * ```
 */
export function isProcessAlive(pid: number, startTime?: number): boolean {
  validatePid(pid);
  if (startTime !== undefined && (typeof startTime !== "number" || Number.isNaN(startTime))) {
    throw new TypeError(
      `Expected \`startTime\` to be a number from processStartTime(), got ${String(startTime)}`,
    );
  }
  if (pid > MAX_PID || !signalZero(pid)) return false;
  let now: number | undefined;
  if (process.platform === "linux") {
    // One read of /proc/<pid>/stat answers both "zombie?" and "same process?".
    const stat = readProcStat(pid);
    if (stat !== undefined && isZombieState(stat.state)) return false;
    if (startTime === undefined) return true;
    now = stat?.startTime;
  } else {
    if (startTime === undefined) return true;
    now = platformStartTime(pid);
  }
  if (now === undefined) {
    // Either no source on this platform, or the process ended between the two checks,
    // or /proc hides it from us. Only the second is a "no"; ask the kernel again.
    return signalZero(pid);
  }
  return now === startTime;
}
