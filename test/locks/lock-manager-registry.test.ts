// The registry behind query(): what is written when (nothing for an uncontended
// exclusive request; an entry per waiter and per shared holder), and entries of dead
// processes (exited, or a PID reused by another process) never shown and removed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { LockManager, processStartTime } from "../../src/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { deferred, turn } from "./helpers.js";

const newTempDir = useTempDir();
let dir: string;
let locks: LockManager;
const registry = () => join(dir, ".registry");
const entries = () => (existsSync(registry()) ? readdirSync(registry()) : []);

beforeEach(() => {
  dir = newTempDir();
  locks = new LockManager({ dir });
});

function inject(id: string, fields: Record<string, unknown>): string {
  mkdirSync(registry(), { recursive: true });
  const path = join(registry(), `${id}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      id: `${id}.1`,
      seq: 1,
      state: "pending",
      name: "res",
      mode: "exclusive",
      clientId: id,
      pid: process.pid,
      hostname: hostname(),
      since: Date.now(),
      ...fields,
    }),
  );
  return path;
}

/** The pid of a process that has exited (and was reaped). */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", "0"]).pid!;
}

describe("what the registry holds", () => {
  it("nothing for an uncontended exclusive request, before, during or after it", async () => {
    for (let i = 0; i < 3; i++) {
      await locks.request("res", async () => {
        for (let t = 0; t < 3; t++) await turn();
        expect(entries()).toEqual([]);
      });
    }
    // Not even written and removed again: the registry directory was never needed.
    expect(existsSync(registry())).toBe(false);
  });

  it("an entry for a request that waits, removed when it is granted (exclusive) or ends", async () => {
    const gate = deferred();
    const held = locks.request("res", () => gate.promise);
    const waiting = locks.request("res", () => entries());
    await turn();
    await turn();
    expect(entries()).toHaveLength(1);
    gate.resolve();
    await held;
    // Exclusive: the holder record in the lock file speaks for it now.
    expect(await waiting).toEqual([]);
    expect(entries()).toEqual([]);
  });

  it("an entry for each shared holder, removed after release", async () => {
    const during = await locks.request("res", { mode: "shared" }, () =>
      locks.request("res", { mode: "shared" }, () => entries().length),
    );
    expect(during).toBe(2);
    expect(entries()).toEqual([]);
  });

  it("an aborted or timed-out waiter leaves no entry", async () => {
    const gate = deferred();
    const held = locks.request("res", () => gate.promise);
    const ac = new AbortController();
    const aborted = locks.request("res", { signal: ac.signal }, () => {});
    await turn();
    await turn();
    expect(entries()).toHaveLength(1);
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ name: "AbortError" });
    expect(entries()).toEqual([]);
    await expect(locks.request("res", { timeoutMs: 20 }, () => {})).rejects.toMatchObject({
      code: "ELOCKTIMEOUT",
    });
    expect(entries()).toEqual([]);
    gate.resolve();
    await held;
  });
});

describe("entries of dead processes", () => {
  it("an exited process's entries never show, and are removed", async () => {
    const pid = deadPid();
    const path = inject("dead-client", { pid });
    const snap = await locks.query();
    expect(snap.pending).toEqual([]);
    expect(existsSync(path)).toBe(false);
  });

  it("a reused PID (same pid, another start time) counts as dead", async () => {
    const start = processStartTime(process.pid);
    expect(start).toBeTypeOf("number"); // Linux: the test needs a start time to compare
    const path = inject("reused", { processStartTime: start! + 1 });
    expect((await locks.query()).pending).toEqual([]);
    expect(existsSync(path)).toBe(false);
  });

  it("a live process's entry shows; another host's shows as it is (it cannot be checked)", async () => {
    inject("alive", { processStartTime: processStartTime(process.pid), holder: { purpose: "x" } });
    inject("remote", {
      pid: deadPid(),
      hostname: "elsewhere.example",
      state: "held",
      mode: "shared",
    });
    const snap = await locks.query();
    expect(snap.pending).toEqual([
      expect.objectContaining({ clientId: "alive", pid: process.pid, holder: { purpose: "x" } }),
    ]);
    expect(snap.held).toEqual([
      expect.objectContaining({
        clientId: "remote",
        hostname: "elsewhere.example",
        mode: "shared",
      }),
    ]);
  });

  it("files that are not entries (partial writes, other JSON, temp files) are ignored", async () => {
    mkdirSync(registry(), { recursive: true });
    writeFileSync(join(registry(), "partial.json"), '{"id":"x","se');
    writeFileSync(join(registry(), "other.json"), "[1,2]");
    writeFileSync(join(registry(), "notes.txt"), "hello");
    expect(await locks.query()).toEqual({ held: [], pending: [] });
  });
});
