import { spawnSync } from "node:child_process";
import { readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { sweepTempFiles, writeFileAtomic } from "../../src/atomic/index.js";
import { io } from "../../src/atomic/io.js";
import { useTempDir } from "../helpers/temp-dir.js";

const newTempDir = useTempDir();
let dir: string;

beforeEach(() => {
  dir = newTempDir();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** The PID of a process that has exited (and been reaped) by the time this returns. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

const hex = "0123456789abcdef";

describe("sweepTempFiles", () => {
  it("removes temp files whose writer is gone and keeps those of live writers and other files", async () => {
    const dead = deadPid();
    const names = {
      dead: `.config.json.${dead}.${hex}.tmp`,
      deadDotted: `.a.b.c.${dead}.${hex}.tmp`,
      ours: `.config.json.${process.pid}.${hex}.tmp`,
      init: `.config.json.1.${hex}.tmp`,
      notOurs: `.config.json.${dead}.tmp`,
      plain: "config.json",
    };
    for (const n of Object.values(names)) await writeFile(join(dir, n), "x");
    const removed = await sweepTempFiles(dir);
    expect(removed.sort()).toEqual([join(dir, names.deadDotted), join(dir, names.dead)].sort());
    expect((await readdir(dir)).sort()).toEqual(
      [names.ours, names.init, names.notOurs, names.plain].sort(),
    );
  });

  it("with maxAgeMs also removes old temp files of PIDs that look alive (reused PIDs)", async () => {
    const old = join(dir, `.f.1.${hex}.tmp`);
    const fresh = join(dir, `.g.1.${hex}.tmp`);
    await writeFile(old, "x");
    await writeFile(fresh, "x");
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(old, hourAgo, hourAgo);
    expect(await sweepTempFiles(dir, { maxAgeMs: 60_000 })).toEqual([old]);
    expect(await readdir(dir)).toEqual([`.g.1.${hex}.tmp`]);
  });

  it("never touches the temp file of a write in flight in this process", async () => {
    const p = join(dir, "f");
    let resume!: () => void;
    let paused!: () => void;
    const inFsync = new Promise<void>((r) => (paused = r));
    const fsync = io.fsync;
    vi.spyOn(io, "fsync").mockImplementationOnce(async (fd) => {
      paused();
      await new Promise<void>((r) => (resume = r));
      return fsync(fd);
    });
    const writing = writeFileAtomic(p, "data");
    await inFsync; // the temp file exists and holds the data now
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toHaveLength(1);
    expect(await sweepTempFiles(dir, { maxAgeMs: 0 })).toEqual([]);
    resume();
    await writing;
    expect(await readdir(dir)).toEqual(["f"]);
  });

  it("rejects bad arguments synchronously", () => {
    expect(() => sweepTempFiles("")).toThrow(TypeError);
    expect(() => sweepTempFiles(dir, { maxAgeMs: -1 })).toThrow(RangeError);
  });
});
