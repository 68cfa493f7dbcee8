import { execFileSync } from "node:child_process";
import { constants, symlinkSync } from "node:fs";
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AtomicWriteError, writeFileAtomic } from "../../src/atomic/index.js";
import { io } from "../../src/atomic/io.js";
import { AbortError } from "../../src/errors.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { collect, isRoot, runFixture, spawnFixture, tempFilesIn, waitForLine } from "./helpers.js";

const newTempDir = useTempDir();
let dir: string;

beforeEach(() => {
  dir = newTempDir();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const modeOf = async (p: string) => (await stat(p)).mode & 0o7777;

describe("writeFileAtomic: content", () => {
  it("creates a new file from a string, a Buffer or a TypedArray", async () => {
    await writeFileAtomic(join(dir, "a"), "héllo\n");
    await writeFileAtomic(join(dir, "b"), Buffer.from([1, 2, 3]));
    await writeFileAtomic(join(dir, "c"), new Uint16Array([0x0201, 0x0403]));
    await writeFileAtomic(join(dir, "d"), "aGk=", { encoding: "base64" });
    expect(await readFile(join(dir, "a"), "utf8")).toBe("héllo\n");
    expect([...(await readFile(join(dir, "b")))]).toEqual([1, 2, 3]);
    expect([...(await readFile(join(dir, "c")))]).toEqual([1, 2, 3, 4]);
    expect(await readFile(join(dir, "d"), "utf8")).toBe("hi");
  });

  it("replaces a longer file completely with a shorter one", async () => {
    const p = join(dir, "f");
    await writeFile(p, "x".repeat(10_000));
    await writeFileAtomic(p, "short");
    expect(await readFile(p, "utf8")).toBe("short");
  });

  it("accepts a file: URL and writes empty data", async () => {
    const p = join(dir, "u");
    await writeFileAtomic(new URL(`file://${p}`), "");
    expect(await readFile(p, "utf8")).toBe("");
  });

  it("loops on short writes until every byte is written", async () => {
    const write = io.write;
    const calls: number[] = [];
    vi.spyOn(io, "write").mockImplementation((fd, buf, off, len, pos) => {
      calls.push(len);
      return write(fd, buf, off, Math.min(len, 1000), pos);
    });
    const data = Buffer.alloc(4500, "z");
    await writeFileAtomic(join(dir, "f"), data);
    expect(await readFile(join(dir, "f"))).toEqual(data);
    expect(calls).toEqual([4500, 3500, 2500, 1500, 500]);
  });
});

describe("writeFileAtomic: failures leave the target untouched", () => {
  it("a full disk (short write, then ENOSPC) rejects with ENOSPC and keeps the old content", async () => {
    const p = join(dir, "f");
    await writeFile(p, "old");
    const write = io.write;
    let n = 0;
    vi.spyOn(io, "write").mockImplementation((fd, buf, off, len, pos) => {
      if (n++ === 0) return write(fd, buf, off, Math.min(len, 4096), pos);
      return Promise.reject(
        Object.assign(new Error("ENOSPC: no space left on device, write"), {
          code: "ENOSPC",
          syscall: "write",
        }),
      );
    });
    await expect(writeFileAtomic(p, Buffer.alloc(8192, "n"))).rejects.toMatchObject({
      code: "ENOSPC",
    });
    expect(await readFile(p, "utf8")).toBe("old");
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it("a write that makes no progress fails with EIO instead of spinning", async () => {
    const p = join(dir, "f");
    await writeFile(p, "old");
    vi.spyOn(io, "write").mockResolvedValue(0);
    await expect(writeFileAtomic(p, "new")).rejects.toMatchObject({ code: "EIO" });
    expect(await readFile(p, "utf8")).toBe("old");
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it("a failing fsync rejects with its error and keeps the old content", async () => {
    const p = join(dir, "f");
    await writeFile(p, "old");
    vi.spyOn(io, "fsync").mockRejectedValue(Object.assign(new Error("EIO"), { code: "EIO" }));
    await expect(writeFileAtomic(p, "new")).rejects.toMatchObject({ code: "EIO" });
    expect(await readFile(p, "utf8")).toBe("old");
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it("under RLIMIT_FSIZE a real child reports EFBIG and the target keeps its old content", async () => {
    // ulimit -f counts 1 KiB blocks: the child may not grow any file past 256 KiB (room
    // for tsx's compile cache), so the 512 KiB write stops short at 256 KiB. libuv
    // returns the short count, the next write(2) gets EFBIG.
    const p = join(dir, "f");
    await writeFile(p, "old");
    const r = await runFixture("atomic-writer", ["interlock", p, "524288"], {
      shell: "ulimit -f 256",
    });
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: "EFBIG" });
    expect(await readFile(p, "utf8")).toBe("old");
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it("under the same limit write-file-atomic reports success and commits a truncated file", async () => {
    // The failure interlock exists to prevent, shown on the peer: it ignores the short
    // write and renames half a file over the original.
    const p = join(dir, "f");
    await writeFile(p, "old");
    const r = await runFixture("atomic-writer", ["write-file-atomic", p, "524288"], {
      shell: "ulimit -f 256",
    });
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
    expect((await stat(p)).size).toBe(262144);
  });

  it("left alone, write-file-atomic's signal-exit turns that limit into death by SIGXFSZ", async () => {
    // Node ignores SIGXFSZ so that writes fail with EFBIG; signal-exit listens for it and
    // re-raises it. interlock adds a second listener while it writes (tested above: the
    // child reported EFBIG and lived).
    const p = join(dir, "f");
    await writeFile(p, "old");
    const r = await runFixture("atomic-writer", ["write-file-atomic-bare", p, "524288"], {
      shell: "ulimit -f 256",
    });
    expect(r.signal ?? r.code).toSatisfy((s) => s === "SIGXFSZ" || s === 128 + 25);
    expect(r.stdout).toBe("");
  });
});

describe("writeFileAtomic: mode and owner", () => {
  it.each([0o644, 0o640, 0o600, 0o664, 0o666, 0o400])(
    "keeps the mode %o of an existing file",
    async (mode) => {
      const p = join(dir, "f");
      await writeFile(p, "old");
      await chmod(p, mode);
      await writeFileAtomic(p, "new");
      expect(await modeOf(p)).toBe(mode);
      expect(await readFile(p, "utf8")).toBe("new");
    },
  );

  it.each([
    ["022", 0o644],
    ["027", 0o640],
    ["077", 0o600],
    ["002", 0o664],
  ])("gives a new file 0o666 & ~umask (umask %s)", async (umask, expected) => {
    const p = join(dir, "new");
    const r = await runFixture("atomic-writer", ["interlock", p, "10"], {
      shell: `umask ${umask}`,
    });
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
    expect(await modeOf(p)).toBe(expected);
  });

  it("applies an explicit mode exactly, to new and existing files, whatever the umask", async () => {
    const p = join(dir, "new");
    const r = await runFixture("atomic-writer", ["interlock", p, "10", "n", "664"], {
      shell: "umask 077",
    });
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
    expect(await modeOf(p)).toBe(0o664);
    await writeFileAtomic(p, "again", { mode: 0o600 });
    expect(await modeOf(p)).toBe(0o600);
  });

  it("keeps the owner of an existing file where the process may chown (root), else its own", async () => {
    const p = join(dir, "f");
    await writeFile(p, "old");
    if (isRoot) {
      await chown(p, 65534, 65534);
      await writeFileAtomic(p, "new");
      const st = await stat(p);
      expect([st.uid, st.gid]).toEqual([65534, 65534]);
    } else {
      // A non-root writer cannot give files away; its own file simply stays its own.
      await writeFileAtomic(p, "new");
      const st = await stat(p);
      expect([st.uid, st.gid]).toEqual([process.getuid!(), process.getgid!()]);
    }
    expect(await readFile(p, "utf8")).toBe("new");
  });
});

describe("writeFileAtomic: symlinks", () => {
  it("replaces the target of a symlink chain and leaves the links in place", async () => {
    await mkdir(join(dir, "real"));
    const target = join(dir, "real", "config.json");
    await writeFile(target, "old");
    await chmod(target, 0o640);
    await symlink("real/config.json", join(dir, "link1"));
    await symlink(join(dir, "link1"), join(dir, "link2"));
    await writeFileAtomic(join(dir, "link2"), "new");
    expect((await lstat(join(dir, "link2"))).isSymbolicLink()).toBe(true);
    expect((await lstat(join(dir, "link1"))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(dir, "link1"))).toBe("real/config.json");
    expect(await readFile(target, "utf8")).toBe("new");
    expect(await modeOf(target)).toBe(0o640);
    expect(await tempFilesIn(dir)).toEqual([]);
    expect(await tempFilesIn(join(dir, "real"))).toEqual([]);
  });

  it("through a dangling symlink creates the file it points to", async () => {
    await symlink("missing.txt", join(dir, "link"));
    await writeFileAtomic(join(dir, "link"), "created");
    expect((await lstat(join(dir, "link"))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(dir, "missing.txt"), "utf8")).toBe("created");
  });

  it("creates the temp file with O_EXCL | O_NOFOLLOW under an unpredictable name", async () => {
    const opened: { path: string; flags: number }[] = [];
    const open = io.openSync;
    vi.spyOn(io, "openSync").mockImplementation((p, flags, mode) => {
      opened.push({ path: p, flags });
      return open(p, flags, mode);
    });
    const p = join(dir, "state.json");
    await writeFileAtomic(p, "1");
    await writeFileAtomic(p, "2");
    // The first write to a new file creates one temp speculatively (0600, in case the
    // file existed) and another with the umask-shaped mode: three in all.
    const temps = opened.filter((o) => o.flags & constants.O_CREAT);
    expect(temps).toHaveLength(3);
    for (const t of temps) {
      expect(t.flags & constants.O_EXCL).toBe(constants.O_EXCL);
      expect(t.flags & constants.O_NOFOLLOW).toBe(constants.O_NOFOLLOW);
      expect(t.path).toMatch(
        new RegExp(`^${dir}/\\.state\\.json\\.${process.pid}\\.[0-9a-f]{16}\\.tmp$`),
      );
    }
    expect(new Set(temps.map((t) => t.path)).size).toBe(3);
  });

  it("never writes through a symlink planted at the temp name", async () => {
    // An attacker who guessed the name plants a link to a victim file. O_EXCL refuses
    // to open it, the writer picks a fresh name, and the victim is untouched.
    const victim = join(dir, "victim");
    await writeFile(victim, "precious");
    const open = io.openSync;
    let planted = false;
    vi.spyOn(io, "openSync").mockImplementation((p, flags, mode) => {
      if (flags & constants.O_CREAT && !planted) {
        planted = true;
        symlinkSync(victim, p);
      }
      return open(p, flags, mode);
    });
    await writeFileAtomic(join(dir, "f"), "mine");
    expect(await readFile(victim, "utf8")).toBe("precious");
    expect(await readFile(join(dir, "f"), "utf8")).toBe("mine");
  });
});

describe("writeFileAtomic: typed errors for paths that cannot hold the file", () => {
  it("a directory: EPATHISDIR, nothing created", async () => {
    await mkdir(join(dir, "sub"));
    const err = await writeFileAtomic(join(dir, "sub"), "x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtomicWriteError);
    expect(err).toMatchObject({ code: "EPATHISDIR", path: join(dir, "sub") });
    expect((await readdir(dir)).sort()).toEqual(["sub"]);
    expect(await readdir(join(dir, "sub"))).toEqual([]);
  });

  it("a FIFO: ENOTREGULAR, not replaced", async () => {
    const fifo = join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    await expect(writeFileAtomic(fifo, "x")).rejects.toMatchObject({ code: "ENOTREGULAR" });
    expect((await lstat(fifo)).isFIFO()).toBe(true);
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it("a missing directory: EDIRMISSING", async () => {
    const err = await writeFileAtomic(join(dir, "nope", "f"), "x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtomicWriteError);
    expect(err).toMatchObject({ code: "EDIRMISSING", cause: { code: "ENOENT" } });
  });

  it("a path through a regular file: EDIRMISSING", async () => {
    await writeFile(join(dir, "file"), "");
    await expect(writeFileAtomic(join(dir, "file", "f"), "x")).rejects.toMatchObject({
      code: "EDIRMISSING",
    });
  });

  it("an unwritable directory: EDIRNOTWRITABLE, the old file untouched", async () => {
    const ro = join(dir, "ro");
    await mkdir(ro);
    const p = join(ro, "f");
    await writeFile(p, "old");
    await chmod(p, 0o666);
    await chmod(ro, 0o555);
    await chmod(dir, 0o755);
    // Root ignores directory permissions, so the write runs as `nobody` when we are root.
    const r = await runFixture("atomic-writer", ["interlock", p, "10"], {
      ...(isRoot ? { uid: 65534, gid: 65534, env: { ...process.env, HOME: dir } } : {}),
    });
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: "EDIRNOTWRITABLE" });
    expect(await readFile(p, "utf8")).toBe("old");
    await chmod(ro, 0o755);
  });
});

describe("writeFileAtomic: order, concurrency, cancellation", () => {
  it("queues writes to one path in call order; the last call wins", async () => {
    const p = join(dir, "f");
    const done: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => writeFileAtomic(p, `v${i}`).then(() => done.push(i))),
    );
    expect(done).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await readFile(p, "utf8")).toBe("v49");
  });

  it("leaves no temp file after 50 concurrent writes to several paths", async () => {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => writeFileAtomic(join(dir, `f${i % 5}`), `v${i}`)),
    );
    expect((await readdir(dir)).sort()).toEqual(["f0", "f1", "f2", "f3", "f4"]);
    for (let k = 0; k < 5; k++)
      expect(await readFile(join(dir, `f${k}`), "utf8")).toBe(`v${45 + k}`);
  });

  it("an already aborted signal rejects with AbortError and writes nothing", async () => {
    const p = join(dir, "f");
    await writeFile(p, "old");
    const reason = new Error("stop");
    const err = await writeFileAtomic(p, "new", { signal: AbortSignal.abort(reason) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).cause).toBe(reason);
    expect(await readFile(p, "utf8")).toBe("old");
  });

  it("an abort while queued behind another write leaves the first write's content", async () => {
    const p = join(dir, "f");
    const ac = new AbortController();
    const first = writeFileAtomic(p, "first");
    const second = writeFileAtomic(p, "second", { signal: ac.signal });
    ac.abort();
    await expect(second).rejects.toBeInstanceOf(AbortError);
    await first;
    expect(await readFile(p, "utf8")).toBe("first");
  });

  it("an abort during the write, before the rename, leaves the target untouched", async () => {
    const p = join(dir, "f");
    await writeFile(p, "old");
    const ac = new AbortController();
    const fsync = io.fsync;
    vi.spyOn(io, "fsync").mockImplementation((fd) => {
      ac.abort(new Error("late"));
      return fsync(fd);
    });
    await expect(writeFileAtomic(p, "new", { signal: ac.signal })).rejects.toBeInstanceOf(
      AbortError,
    );
    expect(await readFile(p, "utf8")).toBe("old");
    expect(await tempFilesIn(dir)).toEqual([]);
  });

  it("fsyncs the file before the rename and the directory after it; fsync: false skips both", async () => {
    const steps: string[] = [];
    const { fsync, rename, open, openSync } = io;
    const fds = new Map<number, string>();
    vi.spyOn(io, "open").mockImplementation(async (p, flags, mode) => {
      const fd = await open(p, flags, mode);
      fds.set(fd, p === dir ? "dir" : "old");
      return fd;
    });
    vi.spyOn(io, "openSync").mockImplementation((p, flags, mode) => {
      const fd = openSync(p, flags, mode);
      fds.set(fd, "temp");
      return fd;
    });
    vi.spyOn(io, "fsync").mockImplementation((fd) => {
      steps.push(`fsync ${fds.get(fd)}`);
      return fsync(fd);
    });
    vi.spyOn(io, "rename").mockImplementation((a, b) => {
      steps.push("rename");
      return rename(a, b);
    });
    await writeFileAtomic(join(dir, "f"), "x");
    expect(steps).toEqual(["fsync temp", "rename", "fsync dir"]);
    steps.length = 0;
    await writeFileAtomic(join(dir, "f"), "y", { fsync: false });
    expect(steps).toEqual(["rename"]);
  });
});

describe("writeFileAtomic: temp files removed when the process is stopped", () => {
  it.each(["SIGTERM", "SIGINT", "SIGHUP"] as const)(
    "%s mid-write removes the temp file and keeps the target",
    async (sig) => {
      const p = join(dir, "f");
      await writeFile(p, "old");
      const child = spawnFixture("atomic-hang", [p]);
      const done = collect(child);
      const { tmp } = JSON.parse(await waitForLine(child, (l) => l.startsWith("{"))) as {
        tmp: string;
      };
      expect((await readdir(dir)).length).toBe(2); // the target and the temp file
      child.kill(sig);
      const r = await done;
      expect(r.signal).toBe(sig); // the default disposition still applies afterwards
      expect(await readdir(dir)).toEqual(["f"]);
      expect(tmp.startsWith(join(dir, ".f."))).toBe(true);
      expect(await readFile(p, "utf8")).toBe("old");
    },
  );

  it("process.exit() mid-write removes the temp file", async () => {
    const p = join(dir, "f");
    await writeFile(p, "old");
    const r = await runFixture("atomic-hang", [p, "exit"]);
    expect(r.code).toBe(3);
    expect(await readdir(dir)).toEqual(["f"]);
  });
});

describe("writeFileAtomic: arguments", () => {
  it("throws synchronously for bad arguments", () => {
    expect(() => writeFileAtomic("", "x")).toThrow(TypeError);
    expect(() => writeFileAtomic(42 as any, "x")).toThrow(TypeError);
    expect(() => writeFileAtomic("a\0b", "x")).toThrow(TypeError);
    expect(() => writeFileAtomic("f", 42 as any)).toThrow(TypeError);
    expect(() => writeFileAtomic("f", "x", { mode: 0o10000 })).toThrow(RangeError);
    expect(() => writeFileAtomic("f", "x", { mode: 1.5 })).toThrow(RangeError);
    expect(() => writeFileAtomic("f", "x", { fsync: "yes" as any })).toThrow(TypeError);
    expect(() => writeFileAtomic("f", "x", { signal: {} as any })).toThrow(TypeError);
    expect(() => writeFileAtomic("f", "x", { encoding: "klingon" as any })).toThrow(TypeError);
  });
});
