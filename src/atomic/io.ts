// The handful of syscalls an atomic write makes, as promises over the callback API.
// Callback `fs` is measurably cheaper per call than `fs.promises` (no FileHandle object,
// no extra promise layer), and an atomic write makes ten of these calls, so the
// overhead shows next to the fsyncs. Tests replace members of `io` to simulate short
// writes and a full disk without needing a full disk.
import fs from "node:fs";

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

function call<T>(run: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    run((err, value) => (err ? reject(err) : resolve(value)));
  });
}

/** @internal */
export const io = {
  /** `lstat`, with ENOENT as `undefined`. */
  lstat(path: string): Promise<fs.Stats | undefined> {
    return new Promise((resolve, reject) => {
      fs.lstat(path, (err, st) => {
        if (err === null) resolve(st);
        else if (err.code === "ENOENT") resolve(undefined);
        else reject(err);
      });
    });
  },
  readlink(path: string): Promise<string> {
    return call((cb) => fs.readlink(path, cb));
  },
  realpath(path: string): Promise<string> {
    return call((cb) => fs.realpath.native(path, cb));
  },
  open(path: string, flags: number, mode?: number): Promise<number> {
    return call((cb) => fs.open(path, flags, mode, cb));
  },
  openSync(path: string, flags: number, mode?: number): number {
    return fs.openSync(path, flags, mode);
  },
  /** One `write(2)`: may write fewer bytes than asked (a full disk, RLIMIT_FSIZE). */
  write(fd: number, buf: Uint8Array, offset: number, length: number, position: number) {
    return call<number>((cb) => fs.write(fd, buf, offset, length, position, cb));
  },
  fsync(fd: number): Promise<void> {
    return call<void>((cb) => fs.fsync(fd, cb));
  },
  fchmod(fd: number, mode: number): Promise<void> {
    return call<void>((cb) => fs.fchmod(fd, mode, cb));
  },
  fchown(fd: number, uid: number, gid: number): Promise<void> {
    return call<void>((cb) => fs.fchown(fd, uid, gid, cb));
  },
  close(fd: number): Promise<void> {
    return call<void>((cb) => fs.close(fd, cb));
  },
  rename(from: string, to: string): Promise<void> {
    return call<void>((cb) => fs.rename(from, to, cb));
  },
  unlink(path: string): Promise<void> {
    return call<void>((cb) => fs.unlink(path, cb));
  },
  readFile(path: string): Promise<Buffer> {
    return call<Buffer>((cb) => fs.readFile(path, cb));
  },
  fstat(fd: number): Promise<fs.Stats> {
    return call<fs.Stats>((cb) => fs.fstat(fd, cb));
  },
  readFd(fd: number): Promise<Buffer> {
    return call<Buffer>((cb) => fs.readFile(fd, cb));
  },
};

// O_NONBLOCK: a FIFO in the file's place must not park a thread-pool thread (and the
// read with it) until some writer opens it; the fstat after the open refuses it.
const O_READ = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

/**
 * Reads a regular file without ever blocking on what is not one: `undefined` when it
 * does not exist; `kind` names what it is otherwise ("a directory", "a FIFO", ...).
 * @internal
 */
export async function readRegular(
  path: string,
): Promise<{ bytes: Buffer } | { kind: string; cause?: unknown } | undefined> {
  let fd: number;
  try {
    fd = await io.open(path, O_READ);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "EISDIR") return { kind: "a directory", cause: err };
    if (code === "ENXIO") return { kind: "a socket", cause: err };
    throw err;
  }
  try {
    const st = await io.fstat(fd);
    if (st.isDirectory()) return { kind: "a directory" };
    if (!st.isFile()) {
      return { kind: st.isFIFO() ? "a FIFO" : st.isSocket() ? "a socket" : "a device" };
    }
    return { bytes: await io.readFd(fd) };
  } finally {
    await io.close(fd).catch(() => {});
  }
}
