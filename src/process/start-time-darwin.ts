import { execFileSync } from "node:child_process";

/**
 * `ps -o lstart= -p <pid>` on macOS: the start time, to the second, as milliseconds
 * since the epoch. It comes from the kernel's record of when the process started, so
 * it does not drift with later clock changes. Returns `undefined` when the process does
 * not exist or `ps` fails.
 *
 * Costs a `ps` child process (a few milliseconds, synchronous); callers that ask about
 * their own process should cache the answer.
 */
export function startTimeDarwin(pid: number): number | undefined {
  let out: string;
  try {
    out = execFileSync("/bin/ps", ["-o", "lstart=", "-p", String(pid)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      // `ps` prints lstart in the C locale's format only under LC_ALL=C.
      env: { ...process.env, LC_ALL: "C", TZ: "UTC" },
      timeout: 5_000,
    });
  } catch {
    return undefined;
  }
  return parseLstart(out);
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** Parses `ps -o lstart=` output in the C locale and UTC, e.g. `Tue Jun  4 09:26:01 2024`. */
export function parseLstart(out: string): number | undefined {
  const m = /^\s*\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})\s*$/.exec(out);
  if (m === null) return undefined;
  const month = MONTHS[m[1]!];
  if (month === undefined) return undefined;
  return Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
}
