import { fork } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { acquireFileLock } from "../../src/file-lock/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { fixture } from "./helpers.js";

const tempDir = useTempDir();

/**
 * Holds 4 lock files here while a child with a 2-thread pool waits for all 4 of them
 * and times an unrelated file read. Returns the read's time (null: still blocked at 1 s).
 */
async function readWhileWaiting(strategy: "interlock" | "fs-ext"): Promise<number | null> {
  const dir = tempDir();
  const readPath = join(dir, "unrelated.txt");
  writeFileSync(readPath, "hello");
  const paths = [1, 2, 3, 4].map((i) => join(dir, `${i}.lock`));
  const locks = await Promise.all(paths.map((p) => acquireFileLock(p)));
  const child = fork(fixture("file-lock-threadpool.ts"), [strategy, readPath, ...paths], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, UV_THREADPOOL_SIZE: "2" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  try {
    const [{ readMs }] = (await once(child, "message")) as [{ readMs: number | null }];
    const acquired = once(child, "message");
    for (const l of locks) await l.release();
    // Every waiter gets its lock once we let go: the waiting was real.
    expect(((await acquired) as [{ acquired: number }])[0].acquired).toBe(4);
    return readMs;
  } finally {
    child.kill("SIGKILL");
  }
}

describe("waiting for a file lock", () => {
  it("never occupies the libuv thread pool: an unrelated read completes within 500 ms while 4 waiters wait", async () => {
    const readMs = await readWhileWaiting("interlock");
    expect(readMs).not.toBeNull();
    expect(readMs!).toBeLessThan(500);
  });

  it("(control) the naive blocking flock on the pool does stall the read: the test can tell", async () => {
    expect(await readWhileWaiting("fs-ext")).toBeNull();
  });
});
