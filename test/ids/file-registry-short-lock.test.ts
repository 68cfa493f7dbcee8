// The registry's lock is held only for short sections: never between reserve and
// commit, so `ls` and parallel `up`s go ahead while others provision. The waits below
// carry timeouts only as deadlock guards (seconds), never as timing assertions.
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { acquireFileLock, FileRegistry, tryAcquireFileLock } from "../../src/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { RegistryChild } from "./helpers.js";

const newTempDir = useTempDir();
let path: string;

beforeEach(() => {
  path = join(newTempDir(), "sessions.json");
});

const start = (n: number) =>
  Promise.all(Array.from({ length: n }, () => RegistryChild.start(path)));

describe("FileRegistry holds its lock only for short sections", () => {
  it("the lock is free while an entry is pending: no user work ever runs under it", async () => {
    const registry = new FileRegistry(path);
    const entry = await registry.reserve({ id: "web", slot: { min: 0, max: 0 } });
    // Anyone can take the registry's lock between reserve and commit.
    const lock = await tryAcquireFileLock(registry.lockPath);
    expect(lock).toBeDefined();
    await lock!.release();
    await entry.commit();
    const after = await tryAcquireFileLock(registry.lockPath);
    expect(after).toBeDefined();
    await after!.release();
  });

  it("list() answers while another holder has the lock, and shows pending entries", async () => {
    const registry = new FileRegistry(path);
    await registry.reserve({ id: "a" });
    await using _held = await acquireFileLock(registry.lockPath);
    const listed = await registry.list();
    expect(listed.map((e) => [e.id, e.status])).toEqual([["a", "pending"]]);
  });

  it("list() and reserve answer while 4 processes hold pending entries, and see them", async () => {
    const holders = await start(4);
    const [lister] = await start(1);
    const slot = { min: 0, max: 7 };
    // Barrier: each holder has its pending entry once it replies; none commits until
    // told, so everything below runs while all four are "provisioning".
    const held = await Promise.all(
      holders.map((h) =>
        h.request({ op: "reserve", options: { base: "session", slot, timeoutMs: 10_000 } }),
      ),
    );
    const registry = new FileRegistry(path);
    const listed = await registry.list();
    expect(listed.map((e) => e.status)).toEqual(["pending", "pending", "pending", "pending"]);
    expect(listed.map((e) => e.owner.pid).sort()).toEqual(holders.map((h) => h.pid).sort());
    // Another process's `ls`, and a parallel `up` that reserves and commits: neither
    // waits for the holders (the timeout is a deadlock guard, not a timing bound).
    const theirs = await lister!.request({ op: "list" });
    expect(theirs.entries).toHaveLength(4);
    const mine = await registry.reserve({ base: "session", slot, timeoutMs: 10_000 });
    expect(mine.slot).toBe(4);
    await mine.commit({ parallel: true });
    // Only now do the holders finish.
    await Promise.all(holders.map((h, i) => h.request({ op: "commit", id: held[i]!.id })));
    const after = await registry.list();
    expect(after.map((e) => e.status)).toEqual(Array(5).fill("active"));
    expect(new Set(after.map((e) => e.slot)).size).toBe(5);
  }, 60_000);
});
