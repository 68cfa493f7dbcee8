import { randomFillSync } from "node:crypto";
import fs from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { onExit } from "signal-exit";
import { AbortError, hasCode } from "../errors.js";
import { describe } from "../internal/describe.js";
import { processWide } from "../internal/process-state.js";
import { KeyedMutex } from "../keyed-mutex.js";
import { isProcessAlive } from "../process/index.js";
import { AtomicWriteError } from "./errors.js";
import { io } from "./io.js";

/**
 * Options of {@link writeFileAtomic}.
 *
 * - `mode`: permission bits for the file, applied exactly (umask does not narrow
 *   them). Omitted: an existing file keeps its mode; a new file gets `0o666 & ~umask`,
 *   as `fs.writeFile` would give it.
 * - `fsync` (default `true`): flush the file before the rename and the directory after
 *   it, so the new version survives a power cut once the promise resolves. `false`
 *   keeps the all-or-nothing replacement but not the durability.
 * - `signal`: aborting it before the rename rejects with `AbortError` and leaves the
 *   target untouched; once the rename happened the write completes.
 * - `encoding` (default `"utf8"`): how a string `data` becomes bytes.
 */
export interface WriteFileAtomicOptions {
  mode?: number | undefined;
  fsync?: boolean | undefined;
  signal?: AbortSignal | undefined;
  encoding?: BufferEncoding | undefined;
}

/**
 * The in-process queue of writers per absolute path, shared by `writeFileAtomic` and
 * `StateFile`, so every writer of one file in this process takes turns in call order.
 * @internal
 */
export const pathLocks = processWide("atomicPathQueue", () => new KeyedMutex<string>());

const O_TEMP =
  fs.constants.O_WRONLY |
  fs.constants.O_CREAT |
  fs.constants.O_EXCL |
  (fs.constants.O_NOFOLLOW ?? 0);
// O_NONBLOCK: if the path was swapped for a FIFO since the lstat, opening must not hang.
const O_OLD =
  fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);
const O_DIR = fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0);
const MAX_SYMLINK_HOPS = 40;
// NAME_MAX is 255 bytes on Linux and macOS; the temp name adds at most ~40 to the base.
const MAX_BASE_BYTES = 200;
const PATH_SYSCALLS = new Set(["open", "lstat", "readlink", "realpath", "rename"]);
// `s`: a base name may contain a newline, and its temp file must still be recognised.
const TEMP_NAME = /^\.(.+)\.(\d+)\.([0-9a-f]{16})\.tmp$/s;

/**
 * Replaces the file at `path` with `data` so that every reader, and the disk after a
 * crash, sees either the complete old version or the complete new one.
 *
 * **Guarantee:** the target is replaced by a rename of a fully written and fsynced temp
 * file in the same directory, and the promise resolves only after the directory has
 * been fsynced too; if anything fails before the rename, the target is untouched and
 * the temp file is removed.
 *
 * What else it keeps:
 * - **Mode and owner.** An existing file keeps its permission bits and (where the
 *   process may `chown`, i.e. as root) its uid/gid. New files get `0o666 & ~umask`.
 * - **Symlinks.** Writing through a symlink replaces the file it points to (following
 *   chains, dangling links included); the link stays a link.
 * - **Order.** Writes to one path from this process are queued and applied in call
 *   order.
 * - **Every byte.** Short writes are retried until all bytes are written, so a full
 *   disk fails with `ENOSPC` (and a file-size limit with `EFBIG`) instead of committing
 *   a truncated file.
 * - **No litter.** The temp file (`.<name>.<pid>.<random>.tmp`, created with `O_EXCL`
 *   and `O_NOFOLLOW`) is removed on every error, and on SIGINT/SIGTERM/exit through
 *   `signal-exit`. After SIGKILL or a power cut, {@link sweepTempFiles} removes it.
 *
 * **Cancellation:** an abort while queued behind another write, or at any point before
 * the rename, rejects with `AbortError` (`cause` is `signal.reason`) and writes nothing.
 *
 * See docs/durability.md for exactly what survives a crash on Linux and macOS.
 *
 * @param path - The file to replace or create. Its directory must exist.
 * @param data - A string (encoded with `encoding`) or bytes. Do not modify a buffer
 *   until the promise settles.
 * @throws {TypeError} synchronously, for a non-string path or unsupported data.
 * @throws {RangeError} synchronously, for a `mode` outside `0..0o7777`.
 * @throws {AtomicWriteError} `EPATHISDIR`, `ENOTREGULAR`, `EDIRMISSING`,
 *   `EDIRNOTWRITABLE`: the path cannot hold the file; nothing was created.
 * @throws {AbortError} the signal aborted before the rename.
 * @throws the raw system error (`ENOSPC`, `EFBIG`, `EIO`, ...) when the write itself
 *   fails; the target is untouched.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "interlock";
 *
 * await writeFileAtomic("config.json", JSON.stringify(config, null, 2) + "\n");
 * // a 0640 file stays 0640; a reader never sees half a config
 * ```
 */
export function writeFileAtomic(
  path: string | URL,
  data: string | NodeJS.ArrayBufferView,
  options?: WriteFileAtomicOptions,
): Promise<void> {
  const file = toPath(path);
  const o = validateWriteOptions(options);
  const bytes = toBytes(data, o.encoding);
  return queuedWrite(file, bytes, o);
}

async function queuedWrite(file: string, bytes: Uint8Array, o: WriteOptions): Promise<void> {
  if (o.signal?.aborted) throw abortedWrite(o.signal);
  beginWrite();
  try {
    let lock: Disposable;
    try {
      lock = await pathLocks.acquire(resolve(file), { signal: o.signal });
    } catch (err) {
      if (hasCode(err, "ABORT_ERR")) throw abortedWrite(o.signal!);
      throw err;
    }
    try {
      await writeLocked(file, bytes, o);
    } finally {
      lock[Symbol.dispose]();
    }
  } finally {
    endWrite();
  }
}

/** @internal Validated options, as `writeLocked` takes them. */
export interface WriteOptions {
  mode: number | undefined;
  fsync: boolean;
  signal: AbortSignal | undefined;
  encoding: BufferEncoding;
}

/** @internal */
export function validateWriteOptions(options: WriteFileAtomicOptions | undefined): WriteOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError("Expected `options` to be an object, e.g. `{ mode: 0o644 }`");
  }
  const mode = validateMode(options?.mode);
  const fsync = options?.fsync ?? true;
  if (typeof fsync !== "boolean") {
    throw new TypeError(`Expected \`fsync\` to be a boolean, got ${typeof fsync}`);
  }
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError("Expected `signal` to be an AbortSignal, e.g. `AbortSignal.timeout(1000)`");
  }
  const encoding = options?.encoding ?? "utf8";
  if (!Buffer.isEncoding(encoding)) {
    throw new TypeError(
      `Expected \`encoding\` to be a Buffer encoding such as "utf8", got ${String(encoding)}`,
    );
  }
  return { mode, fsync, signal, encoding };
}

/**
 * Permission bits, as `fs.chmod` takes them. Decimal by mistake is the common slip:
 * `644` is 0o1204, which sets the sticky bit and leaves the owner unable to read. Three
 * octal-looking digits that land on the special bits can only be that slip.
 */
function validateMode(mode: unknown): number | undefined {
  if (mode === undefined) return undefined;
  if (typeof mode !== "number") {
    throw new TypeError(`Expected \`mode\` to be a number such as 0o644, got ${describe(mode)}`);
  }
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(
      `Expected \`mode\` to be an integer from 0 to 0o7777, e.g. 0o644, got ${describe(mode)}`,
    );
  }
  if (mode >= 0o1000 && mode <= 777 && /^[0-7]{3}$/.test(String(mode))) {
    throw new RangeError(
      `\`mode\` ${mode} is decimal, which is 0o${mode.toString(8)} (the sticky bit and odd permissions); did you mean 0o${mode}?`,
    );
  }
  return mode;
}

/** @internal */
export function toPath(path: string | URL): string {
  if (path instanceof URL) return fileURLToPath(path);
  if (typeof path !== "string" || path.length === 0) {
    throw new TypeError(
      `Expected \`path\` to be a non-empty string or a file: URL, got ${String(path)}`,
    );
  }
  if (path.includes("\0")) throw new TypeError("Expected `path` without NUL bytes");
  if (path.endsWith("/")) {
    throw new TypeError(
      `Expected \`path\` to name a file, got ${describe(path)}, which ends with a slash (a directory)`,
    );
  }
  return path;
}

/** @internal */
export function toBytes(
  data: string | NodeJS.ArrayBufferView,
  encoding: BufferEncoding,
): Uint8Array {
  if (typeof data === "string") return Buffer.from(data, encoding);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`Expected \`data\` to be a string, Buffer or TypedArray, got ${typeof data}`);
}

function abortedWrite(signal: AbortSignal): AbortError {
  return new AbortError(
    signal.reason,
    "The write was aborted by its signal; the target is unchanged",
  );
}

/**
 * The write itself, for a caller that already holds `pathLocks` for `file`.
 * @internal
 */
export async function writeLocked(file: string, bytes: Uint8Array, o: WriteOptions): Promise<void> {
  // Speculate that `file` is an existing regular file, the common case: the temp file
  // and the directory fd are opened while the lstat is still in flight, so the three
  // round-trips to the thread pool cost one. The temp file is private (0600) until its
  // final mode is set, so speculating never exposes data.
  let target = file;
  let dir = dirname(file);
  let dirFd = o.fsync ? openDir(dir) : undefined;
  let oldFd: Promise<number> | undefined;
  let temp = createTemp(dir, basename(file), 0o600);
  let fd = -1;
  let tmp: string | undefined;
  let renamed = false;
  try {
    const [looked, created] = await Promise.allSettled([io.lstat(file), temp]);
    if (created.status === "fulfilled") ({ fd, tmp } = created.value);
    if (looked.status === "rejected") throw looked.reason;
    let stats = looked.value;
    const keep =
      created.status === "fulfilled" &&
      (stats === undefined ? o.mode !== undefined : stats.isFile());
    if (!keep) {
      if (created.status === "rejected" && !stats?.isSymbolicLink()) throw created.reason;
      await discardTemp(fd, tmp);
      fd = -1;
      tmp = undefined;
      if (stats?.isSymbolicLink()) {
        ({ path: target, stats } = await resolveTarget(file));
        if (dirname(target) !== dir) {
          dir = dirname(target);
          dirFd?.then(closeQuietly);
          dirFd = o.fsync ? openDir(dir) : undefined;
        }
      }
      checkKind(file, stats);
      // A new file is created with 0o666 so that the umask shapes its mode, exactly as
      // for `fs.writeFile`; an explicit `mode` is applied by fchmod below.
      temp = createTemp(dir, basename(target), stats === undefined ? 0o666 : 0o600);
      ({ fd, tmp } = await temp);
    }
    if (o.signal?.aborted) throw abortedWrite(o.signal);
    // The old version is held open across the rename so that freeing its blocks (the
    // kernel does it when the last name and the last descriptor go) happens when we
    // close it after resolving, not inside the rename: for a 1 MiB file that is half a
    // millisecond off the caller's wait. O_NONBLOCK: a FIFO swapped in must not hang us.
    if (stats !== undefined) oldFd = io.open(target, O_OLD).catch(() => -1);
    // These run on the same fd, so all must settle before an error path closes it: a
    // write still in flight on a closed (and reused) fd would land in another file.
    const [meta, written] = await Promise.allSettled([
      copyMetadata(fd, stats, o.mode),
      writeAll(fd, bytes),
    ]);
    if (written.status === "rejected") throw written.reason;
    if (meta.status === "rejected") throw meta.reason;
    if (o.fsync) await io.fsync(fd);
    if (o.signal?.aborted) throw abortedWrite(o.signal);
    // close and rename are independent: the name moves whether or not the fd is open.
    const closing = fd;
    fd = -1;
    const closed = io.close(closing);
    if (oldFd !== undefined) await oldFd;
    try {
      await io.rename(tmp!, target);
    } finally {
      await closed.catch(() => {});
    }
    renamed = true;
    untrack(tmp!);
    if (dirFd !== undefined) await fsyncDir(await dirFd);
  } catch (err) {
    if (!renamed) await discardTemp(fd, tmp);
    throw classify(err, file, target);
  } finally {
    // Closed in the background: nothing here can fail in a way the caller could act on.
    dirFd?.then(closeQuietly);
    oldFd?.then(closeQuietly);
  }
}

interface Temp {
  fd: number;
  tmp: string;
}

/**
 * Creates the temp file exclusively, never through a symlink, under a fresh name.
 * Synchronously (an `open` of a new file in a local directory is microseconds): an open
 * still in flight on the thread pool when SIGINT's cleanup runs would create the file
 * just after the cleanup looked for it, and leave it behind.
 */
async function createTemp(dir: string, base: string, mode: number): Promise<Temp> {
  for (let attempt = 0; ; attempt++) {
    const tmp = join(dir, tempName(base));
    track(tmp);
    try {
      return { fd: io.openSync(tmp, O_TEMP, mode), tmp };
    } catch (err) {
      untrack(tmp);
      // A clash on 64 random bits means somebody is planting names; try fresh ones.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 3) throw err;
    }
  }
}

async function discardTemp(fd: number, tmp: string | undefined): Promise<void> {
  if (fd >= 0) await io.close(fd).catch(() => {});
  if (tmp !== undefined) {
    await io.unlink(tmp).catch(() => {});
    untrack(tmp);
  }
}

function closeQuietly(fd: number): void {
  if (fd >= 0) fs.close(fd, () => {});
}

/**
 * Follows symlinks to the file that will really be replaced, so that writing through
 * a link updates its target and the link survives. Dangling links are followed too:
 * the write creates the file they point to, as `echo > link` would.
 */
async function resolveTarget(file: string): Promise<{ path: string; stats: fs.Stats | undefined }> {
  let path = file;
  let stats: fs.Stats | undefined;
  try {
    stats = await io.lstat(path);
    for (let hops = 0; stats?.isSymbolicLink(); hops++) {
      if (hops >= MAX_SYMLINK_HOPS) {
        throw Object.assign(new Error(`Too many levels of symbolic links: ${file}`), {
          code: "ELOOP",
        });
      }
      const link = await io.readlink(path);
      // Resolve relative targets against the physical directory, as the kernel does.
      path = resolve(await io.realpath(dirname(path)), link);
      stats = await io.lstat(path);
    }
  } catch (err) {
    throw classify(err, file, path);
  }
  return { path, stats };
}

function checkKind(file: string, stats: fs.Stats | undefined): void {
  if (stats?.isDirectory()) {
    throw new AtomicWriteError(
      "EPATHISDIR",
      file,
      `Cannot write ${file}: it is a directory; pass the path of a file inside it`,
    );
  }
  if (stats !== undefined && !stats.isFile()) {
    throw new AtomicWriteError(
      "ENOTREGULAR",
      file,
      `Cannot write ${file} atomically: it is not a regular file (FIFO, socket or device), and replacing it would break whatever uses it`,
    );
  }
}

/** Writes every byte: `write(2)` may stop short on a full disk or a file-size limit. */
async function writeAll(fd: number, bytes: Uint8Array): Promise<void> {
  const total = bytes.byteLength;
  let done = 0;
  while (done < total) {
    const n = await io.write(fd, bytes, done, total - done, done);
    if (n <= 0) {
      // The next call would most likely loop forever; report it as the I/O error it is.
      throw Object.assign(new Error(`write() made no progress after ${done} of ${total} bytes`), {
        code: "EIO",
        syscall: "write",
      });
    }
    done += n;
  }
}

async function copyMetadata(
  fd: number,
  stats: fs.Stats | undefined,
  mode: number | undefined,
): Promise<void> {
  if (stats !== undefined && process.getuid !== undefined) {
    // chown first: changing the owner clears setuid/setgid bits, which the chmod restores.
    if (stats.uid !== process.geteuid!() || stats.gid !== process.getegid!()) {
      await io.fchown(fd, stats.uid, stats.gid).catch((err: NodeJS.ErrnoException) => {
        // Only root may give a file away; everybody else keeps the file as their own.
        if (err.code !== "EPERM" && err.code !== "EINVAL" && err.code !== "ENOSYS") throw err;
      });
    }
  }
  // The temp file was created 0600 (or umask-narrowed): set the final bits exactly.
  if (mode !== undefined) await io.fchmod(fd, mode);
  else if (stats !== undefined) await io.fchmod(fd, stats.mode & 0o7777);
}

function openDir(dir: string): Promise<number> {
  // A directory we may write but not read (mode 0o333) cannot be opened for fsync; the
  // rename is still atomic, only its durability is then up to the filesystem.
  return io.open(dir, O_DIR).catch(() => -1);
}

async function fsyncDir(fd: number): Promise<void> {
  if (fd < 0) return;
  try {
    await io.fsync(fd);
  } catch (err) {
    // Some filesystems (and Windows) do not support fsync on a directory.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EPERM" && code !== "ENOTSUP") throw err;
  }
}

// Random bytes are drawn from the CSPRNG in blocks: one call per 128 temp names instead
// of one per name (each call costs more than the hex it returns).
const randomPool = Buffer.alloc(1024);
let randomOffset = randomPool.length;

function tempName(base: string): string {
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

/** Turns errors that mean "this path cannot hold the file" into typed errors. */
function classify(err: unknown, file: string, target: string): unknown {
  if (!(err instanceof Error) || err instanceof AtomicWriteError) return err;
  const e = err as NodeJS.ErrnoException;
  // Failures of the data path itself (ENOSPC, EFBIG, EIO) are not about the path.
  if (e.syscall !== undefined && !PATH_SYSCALLS.has(e.syscall)) return err;
  const dir = dirname(target);
  const dirStat = fs.statSync(dir, { throwIfNoEntry: false });
  switch (e.code) {
    case "EACCES":
    case "EPERM":
    case "EROFS": {
      if (e.syscall === "rename" && dirStat !== undefined && (dirStat.mode & 0o1000) !== 0) {
        // The temp file was created, so the directory is writable; the rename over the
        // target is what a sticky directory (/tmp) refuses to anyone but its owner.
        const owner = fs.statSync(target, { throwIfNoEntry: false })?.uid;
        return new AtomicWriteError(
          "EDIRNOTWRITABLE",
          file,
          `Cannot replace ${target} (${e.code}): ${dir} is a sticky directory (like /tmp), where only a file's owner may replace it, and it belongs to uid ${owner ?? "?"}, not to this process (uid ${process.getuid?.() ?? "?"}). Write it as its owner, or use a path in a directory you own`,
          { cause: err },
        );
      }
      return new AtomicWriteError(
        "EDIRNOTWRITABLE",
        file,
        `Cannot write ${file}: no file can be created in ${dir} (${e.code}); check its permissions and mount`,
        { cause: err },
      );
    }
    case "ENOENT":
    case "ENOTDIR":
      if (e.code === "ENOENT" && dirStat?.isDirectory()) {
        // The directory is there: what went missing is our temp file, between its
        // creation and the rename (a cleanup job removing *.tmp files, say).
        return new AtomicWriteError(
          "ETEMPVANISHED",
          file,
          `Cannot write ${file}: its temp file ${e.path ?? "in " + dir} was removed by someone else before it could be renamed into place; ${target} is unchanged. Keep cleanup jobs away from .*.tmp files of live processes (sweepTempFiles only removes those of dead ones)`,
          { cause: err },
        );
      }
      return new AtomicWriteError(
        "EDIRMISSING",
        file,
        dirStat !== undefined && !dirStat.isDirectory()
          ? `Cannot write ${file}: ${dir} is a file, not a directory (${e.code})`
          : `Cannot write ${file}: the directory ${dir} does not exist (${e.code}); create it first`,
        { cause: err },
      );
    case "EISDIR":
      return new AtomicWriteError(
        "EPATHISDIR",
        file,
        `Cannot write ${file}: it is a directory; pass the path of a file inside it`,
        { cause: err },
      );
    default:
      return err;
  }
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
function track(tmp: string): void {
  inFlight.add(resolve(tmp));
}

function untrack(tmp: string): void {
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
