import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { isProcessAlive, processStartTime } from "../../src/process/index.js";
import { readableFixture } from "../helpers/readable-fixture.js";

describe("isProcessAlive", () => {
  it("is true for this process, with or without its start time", () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(process.pid, processStartTime(process.pid))).toBe(true);
  });

  it("is false for a process that has exited", () => {
    const { pid } = spawnSync(process.execPath, ["-e", "0"]);
    expect(isProcessAlive(pid!)).toBe(false);
  });

  it("PID reuse: a live PID with a different start time is a different process, so the original is dead", () => {
    const start = processStartTime(process.pid);
    expect(start).toBeTypeOf("number");
    expect(isProcessAlive(process.pid, start! + 1)).toBe(false);
    expect(isProcessAlive(process.pid, start! - 1)).toBe(false);
  });

  it("tells a child's start time from ours, and sees it die", async () => {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"]);
    await once(child, "spawn");
    const start = processStartTime(child.pid!);
    expect(isProcessAlive(child.pid!, start)).toBe(true);
    child.kill("SIGKILL");
    await once(child, "exit");
    expect(isProcessAlive(child.pid!, start)).toBe(false);
    expect(isProcessAlive(child.pid!)).toBe(false);
  });

  it("EPERM means alive: a process we may not signal still exists", () => {
    // PID 1 belongs to root. Ask as an unprivileged user, so kill(1, 0) fails with EPERM.
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    // The unprivileged child runs a bundled copy it can read (readable-fixture.ts).
    const fixture = readableFixture("process-alive");
    const run = (...args: number[]) => {
      const r = spawnSync(process.execPath, [fixture, ...args.map(String)], {
        encoding: "utf8",
        ...asNobody,
      });
      return JSON.parse(r.stdout) as { alive: boolean; startTime: number | null; uid: number };
    };
    const plain = run(1);
    expect(plain.uid).not.toBe(0);
    expect(plain.alive).toBe(true);
    // The start time of a process we may not signal is still readable and checked.
    expect(run(1, plain.startTime!).alive).toBe(true);
    expect(run(1, plain.startTime! + 1).alive).toBe(false);
  });

  it("a zombie (exited, not yet reaped) holds nothing and counts as dead (Linux)", async () => {
    // The shell starts a child that exits when told, then becomes `sleep`, which never
    // reaps it. The child must exit only after the exec: a shell still running could
    // reap it first (seen under load).
    const shell = spawn("sh", [
      "-c",
      "exec 3<&0; (read x <&3; exit 0) & echo $!; exec sleep 30 3<&-",
    ]);
    try {
      const [line] = (await once(shell.stdout, "data")) as [Buffer];
      const zombie = Number(line.toString().trim());
      await vi.waitFor(
        () => expect(readFileSync(`/proc/${shell.pid}/comm`, "utf8").trim()).toBe("sleep"),
        { timeout: 5_000, interval: 10 },
      );
      shell.stdin.write("exit\n");
      // Wait until the kernel reports it as a zombie.
      await vi.waitFor(
        () => expect(readFileSync(`/proc/${zombie}/stat`, "utf8")).toMatch(/\) Z /),
        {
          timeout: 5_000,
          interval: 10,
        },
      );
      expect(isProcessAlive(zombie)).toBe(false);
    } finally {
      shell.kill("SIGKILL");
    }
  });

  it("rejects PIDs that would address process groups, and bad start times", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, "1", undefined]) {
      expect(() => isProcessAlive(bad as any)).toThrow(RangeError);
    }
    expect(() => isProcessAlive(process.pid, "x" as any)).toThrow(TypeError);
  });
});
