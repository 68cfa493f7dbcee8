import { ftruncateSync, readSync, writeSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { isProcessAlive, processStartTime } from "../process/index.js";

/**
 * What an exclusive holder writes into the lock file: who it is, and since when. Your
 * own `holder` fields (from {@link FileLockOptions.holder}) are added next to these.
 * A string `purpose` is shown in timeout messages ("held by pid 1234 (deploy) ...").
 *
 * @example
 * ```ts
 * const h = await readLockHolder(file);
 * // { pid: 1234, hostname: "build-7", processStartTime: 81234567, acquiredAt: 1718000000000, purpose: "deploy" }
 * ```
 */
export interface LockHolder {
  /** The holder's process id, on `hostname`. */
  pid: number;
  /** `os.hostname()` of the holder's machine: PIDs mean something only there. */
  hostname: string;
  /** {@link processStartTime} of the holder, when its platform has one. */
  processStartTime?: number;
  /** When the lock was taken, in milliseconds since the epoch. */
  acquiredAt: number;
  /** The fields you passed as `holder`. */
  [key: string]: unknown;
}

/** Keys interlock writes itself; a `holder` may not redefine them. */
export const RESERVED_KEYS = ["pid", "hostname", "processStartTime", "acquiredAt"] as const;

/** Records are small; anything bigger in a lock file is somebody's data, not ours. */
export const MAX_RECORD_BYTES = 64 * 1024;

let ownStartTime: number | undefined | null = null;

/** Our own start time, computed once (on macOS it costs a `ps`). */
function ownProcessStartTime(): number | undefined {
  if (ownStartTime === null) ownStartTime = processStartTime(process.pid);
  return ownStartTime;
}

let cachedHost: string | undefined;
export function hostname(): string {
  cachedHost ??= osHostname();
  return cachedHost;
}

/**
 * Serializes the caller's `holder` once, at acquire time, so a value JSON cannot
 * represent fails the call synchronously instead of after the lock is taken. Returns
 * the members as a JSON fragment to append after our own fields ("" for none).
 */
export function serializeHolder(holder: unknown): string {
  if (holder === undefined) return "";
  if (typeof holder !== "object" || holder === null || Array.isArray(holder)) {
    throw new TypeError(
      'Expected `holder` to be a plain object of JSON values, e.g. `{ purpose: "deploy" }`',
    );
  }
  for (const key of RESERVED_KEYS) {
    if (Object.hasOwn(holder, key)) {
      throw new TypeError(
        `\`holder.${key}\` is written by interlock itself; use another name for your field`,
      );
    }
  }
  let json: string;
  try {
    json = JSON.stringify(holder);
  } catch (err) {
    throw new TypeError(
      `Expected \`holder\` to be serializable as JSON: ${(err as Error).message}`,
    );
  }
  if (json.length > MAX_RECORD_BYTES / 2) {
    throw new RangeError(
      `\`holder\` serializes to ${json.length} characters; keep it under ${MAX_RECORD_BYTES / 2} (it is a label, not storage)`,
    );
  }
  return json === "{}" ? "" : `,${json.slice(1, -1)}`;
}

/** The record an exclusive holder writes, built by hand so our fields come first. */
export function buildRecord(holderFragment: string): string {
  const start = ownProcessStartTime();
  return (
    `{"pid":${process.pid},"hostname":${JSON.stringify(hostname())}` +
    (start === undefined ? "" : `,"processStartTime":${start}`) +
    `,"acquiredAt":${Date.now()}${holderFragment}}`
  );
}

/** Parses a lock file's content as a holder record; `undefined` unless it is a valid one. */
export function parseRecord(text: string): LockHolder | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const r = value as Record<string, unknown>;
  if (typeof r.pid !== "number" || !Number.isSafeInteger(r.pid) || r.pid < 1) return undefined;
  if (typeof r.hostname !== "string" || r.hostname === "") return undefined;
  if (typeof r.acquiredAt !== "number" || !Number.isFinite(r.acquiredAt)) return undefined;
  if (
    r.processStartTime !== undefined &&
    (typeof r.processStartTime !== "number" || !Number.isFinite(r.processStartTime))
  ) {
    return undefined;
  }
  return r as LockHolder;
}

/**
 * Reads the file behind `fd` from the start, up to its end; `undefined` if it is longer
 * than {@link MAX_RECORD_BYTES} (then it is not a record). Reads to EOF rather than
 * trusting an earlier `fstat`, which may predate the holder's write.
 */
export function readContent(fd: number): string | undefined {
  const buf = Buffer.allocUnsafe(MAX_RECORD_BYTES + 1);
  let n = 0;
  while (n < buf.length) {
    const got = readSync(fd, buf, n, buf.length - n, n);
    if (got === 0) break;
    n += got;
  }
  return n > MAX_RECORD_BYTES ? undefined : buf.toString("utf8", 0, n);
}

/**
 * A record whose process is provably gone is a leftover, not a holder: a holder that
 * was killed before it could clear its record, read in the moment before the next
 * holder overwrites it. Only decidable for records of this host.
 */
export function isLiveRecord(record: LockHolder): boolean {
  if (record.hostname !== hostname()) return true;
  return isProcessAlive(record.pid, record.processStartTime);
}

/** "pid 1234 (deploy) for 12.3 s", with the host when it is not this one. */
export function describeRecord(record: LockHolder): string {
  const purpose = typeof record.purpose === "string" ? ` (${record.purpose})` : "";
  const host = record.hostname === hostname() ? "" : ` on ${record.hostname}`;
  const seconds = Math.max(0, (Date.now() - record.acquiredAt) / 1000).toFixed(1);
  return `pid ${record.pid}${purpose}${host} for ${seconds} s`;
}

// Every record interlock writes starts with this; content that does not is not ours.
const SIGNATURE = Buffer.from('{"pid":');
const head = Buffer.alloc(SIGNATURE.length);

/**
 * Writes the holder record into the locked file through `fd` (our lock, our
 * descriptor: no window where a path could point elsewhere). Only into an empty file or
 * over an earlier record: content interlock did not write (someone locked their data
 * file itself) is left alone, and the lock simply has no record.
 *
 * A shorter record is padded with spaces (valid trailing JSON whitespace) instead of
 * truncating the file: truncation costs more than the rest of an acquire together.
 */
export function writeRecord(fd: number, size: number, holderFragment: string): void {
  if (size !== 0) {
    if (size > MAX_RECORD_BYTES) return;
    const n = readSync(fd, head, 0, head.length, 0);
    if (n !== head.length || !head.equals(SIGNATURE)) return;
  }
  const record = buildRecord(holderFragment);
  const length = Buffer.byteLength(record);
  try {
    if (length + 1 >= size) {
      writeSync(fd, `${record}\n`, 0, "utf8");
    } else if (size - length <= 1024) {
      writeSync(fd, `${record}${" ".repeat(size - length - 1)}\n`, 0, "utf8");
    } else {
      writeSync(fd, `${record}\n`, 0, "utf8");
      ftruncateSync(fd, length + 1);
    }
  } catch {
    // The record is a courtesy and the lock is already ours: a full disk must not cost
    // the lock. But an earlier holder's record must not stay behind to be read as ours;
    // emptying the file needs no space. Only if even that fails do we give up.
    ftruncateSync(fd, 0);
  }
}
