import fs from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { AbortError, hasCode } from "../errors.js";
import { processWide } from "../internal/process-state.js";
import { KeyedMutex } from "../keyed-mutex.js";
import { classify } from "./classify-error.js";
import { AtomicWriteError } from "./errors.js";
import { io } from "./io.js";
import { beginWrite, endWrite, tempName, track, untrack } from "./temp-files.js";
import { toBytes, toPath, validateWriteOptions, type WriteOptions } from "./write-args.js";

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
