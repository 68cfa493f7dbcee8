import { readFileSync } from "node:fs";

/**
 * Field 22 of `/proc/<pid>/stat`: the process's start time in clock ticks since boot.
 * Stable for the life of the process and different for the next process that reuses
 * the PID (unless both start within the same tick, which PID allocation makes
 * practically impossible). Returns `undefined` when the process does not exist.
 */
export function startTimeLinux(pid: number): number | undefined {
  return readProcStat(pid)?.startTime;
}

/** `/proc/<pid>/stat`, parsed; `undefined` when it cannot be read or parsed. */
export function readProcStat(pid: number): { state: string; startTime: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  return parseProcStat(stat);
}

/**
 * Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself
 * contain spaces and `)`, so fields are counted from the *last* `)`.
 */
export function parseProcStat(stat: string): { state: string; startTime: number } | undefined {
  const close = stat.lastIndexOf(")");
  if (close === -1) return undefined;
  // After ") " come field 3 (state), 4, 5, ...; field 22 is therefore index 19.
  const fields = stat.slice(close + 2).split(" ");
  const state = fields[0];
  const startTime = Number(fields[19]);
  if (state === undefined || state === "" || !Number.isSafeInteger(startTime) || startTime < 0) {
    return undefined;
  }
  return { state, startTime };
}

/**
 * Whether a parsed `/proc/<pid>/stat` says the process has exited but not been reaped
 * (`Z`) or is being torn down (`X`). Such a process no longer holds any lock: its
 * descriptors are closed before it becomes a zombie.
 */
export function isZombieState(state: string): boolean {
  return state === "Z" || state === "X";
}
