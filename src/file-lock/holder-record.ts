import { fstatSync, ftruncateSync, readSync, writeSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { holderJson } from "../internal/holder-json.js";
import { isProcessAlive, processStartTime } from "../process/index.js";
import { RELEASED_BELOW_MS } from "./lock-file.js";

/**
 * What an exclusive holder writes into the lock file: who it is, and since when. Your
 * own `holder` fields (from {@link FileLockOptions.holder}) are added next to these.
 * A string `purpose` is shown in timeout messages ("held by pid 1234 (deploy) ...").
 *
 * @example
 * ```ts
 * const h = await readLockHolder(file);
 * // { token: 42, pid: 1234, hostname: "build-7", processStartTime: 81234567, acquiredAt: 1718000000000, purpose: "deploy" }
 * ```
 */
export interface LockHolder {
  /** The holder's fencing token (see {@link FileLockHandle.token}). */
  token?: number;
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
export const RESERVED_KEYS = [
  "token",
  "pid",
  "hostname",
  "processStartTime",
  "acquiredAt",
] as const;

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
  const json = holderJson(holder, RESERVED_KEYS, MAX_RECORD_BYTES / 2);
  return json === undefined || json === "{}" ? "" : `,${json.slice(1, -1)}`;
}

// Our fields after the token never change within a process: built once.
let identityFields: string | undefined;

/** The record an exclusive holder writes, built by hand so our fields come first. */
export function buildRecord(token: number, holderFragment: string): string {
  if (identityFields === undefined) {
    const start = ownProcessStartTime();
    identityFields =
      `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}` +
      (start === undefined ? "" : `,"processStartTime":${start}`);
  }
  return `{"token":${token}${identityFields},"acquiredAt":${Date.now()}${holderFragment}}`;
}

/**
 * What a free lock file (or one held only in shared mode) says: the last token given
 * out, and nobody's name. Writing it on release is what keeps a released holder from
 * being named as the holder afterwards.
 */
export function tokenRecord(token: number): string {
  return `{"token":${token}}`;
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
  if (r.token !== undefined && (typeof r.token !== "number" || !Number.isSafeInteger(r.token))) {
    return undefined;
  }
  return r as LockHolder;
}

// One buffer for every read of a lock file: reads are synchronous, so never shared.
const buffer = Buffer.allocUnsafe(MAX_RECORD_BYTES + 1);

/**
 * Reads the file behind `fd` from the start, up to its end; `undefined` if it is longer
 * than {@link MAX_RECORD_BYTES} (then it is not a record). Reads to EOF rather than
 * trusting an earlier `fstat`, which may predate the holder's write.
 */
export function readContent(fd: number): string | undefined {
  const n = readAll(fd);
  return n > MAX_RECORD_BYTES ? undefined : buffer.toString("utf8", 0, n);
}

function readAll(fd: number): number {
  let n = 0;
  while (n < buffer.length) {
    const got = readSync(fd, buffer, n, buffer.length - n, n);
    n += got;
    // A regular file returns less than asked only at its end: no second read to see 0.
    if (got === 0 || n < buffer.length) break;
  }
  return n;
}

/** What a lock file holds, as far as locking is concerned. */
export interface Head {
  /** Content interlock wrote (or none at all): ours to overwrite. */
  ours: boolean;
  /** The last token given out for this file (0 before the first). */
  token: number;
  /** Bytes in the file, so a shorter record can cover them all. */
  length: number;
}

const TOKEN_PREFIX = Buffer.from('{"token":');
const OLD_PREFIX = Buffer.from('{"pid":');

/**
 * Reads the token and the size of the content, and whether the content is ours. Every
 * record interlock writes starts with `{"token":` (records of earlier versions with
 * `{"pid":`); content that does not is somebody's data, never overwritten.
 */
export function readHead(fd: number): Head {
  const n = readAll(fd);
  if (n === 0) return { ours: true, token: 0, length: 0 };
  if (n > MAX_RECORD_BYTES) return { ours: false, token: 0, length: n };
  if (startsWith(n, TOKEN_PREFIX)) {
    let token = 0;
    let i = TOKEN_PREFIX.length;
    for (; i < n; i++) {
      const c = buffer[i]!;
      if (c < 0x30 || c > 0x39) break;
      token = token * 10 + (c - 0x30);
    }
    if (i === TOKEN_PREFIX.length || !Number.isSafeInteger(token)) {
      return { ours: false, token: 0, length: n };
    }
    return { ours: true, token, length: n };
  }
  return { ours: startsWith(n, OLD_PREFIX), token: 0, length: n };
}

function startsWith(n: number, prefix: Buffer): boolean {
  return n >= prefix.length && buffer.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/**
 * Writes `text` at the start of the file, covering all `length` bytes there: a shorter
 * record is padded with spaces (valid trailing JSON whitespace) rather than truncating,
 * which costs more than the rest of an acquire, unless the tail is long. Returns the new
 * length of the content.
 */
export function writeOver(fd: number, text: string, length: number): number {
  const bytes = Buffer.byteLength(text);
  if (bytes + 1 >= length) {
    writeSync(fd, `${text}\n`, 0, "utf8");
    return bytes + 1;
  }
  if (length - bytes <= 1024) {
    writeSync(fd, `${text}${" ".repeat(length - bytes - 1)}\n`, 0, "utf8");
    return length;
  }
  writeSync(fd, `${text}\n`, 0, "utf8");
  ftruncateSync(fd, bytes + 1);
  return bytes + 1;
}

/**
 * The record in the file behind `fd`, if it is a current holder's: not marked released
 * (see lock-file.ts) and valid. The caller has established that someone holds the lock
 * exclusively; a record marked released belongs to an earlier holder (the current one
 * writes no record, or has not written it yet).
 */
export function currentRecord(fd: number): LockHolder | undefined {
  if (fstatSync(fd).mtimeMs < RELEASED_BELOW_MS) return undefined;
  const content = readContent(fd);
  const record = content === undefined ? undefined : parseRecord(content);
  return record !== undefined && isLiveRecord(record) ? record : undefined;
}

/**
 * A record whose process is provably gone is a leftover, not a holder: a holder that
 * was killed before it could clear its record. Only decidable for records of this host.
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
