// Who may take an entry away from its owner: only pending entries whose owner is
// provably dead on this host, unless an operator says otherwise. Entries of other
// owners are written into the file directly, as those processes would have.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { acquireFileLock, FileRegistry, IdTakenError } from "../../src/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import {
  deadOwner,
  entry,
  foreignOwner,
  inject,
  liveOwner,
  rawEntries,
  reusedPidOwner,
} from "./helpers.js";

const newTempDir = useTempDir();
let path: string;
let registry: FileRegistry;
const slot = { min: 0, max: 1 };

beforeEach(() => {
  path = join(newTempDir(), "registry.json");
  registry = new FileRegistry(path);
});

const ids = async () => (await registry.list()).map((e) => e.id);

describe("FileRegistry reclaim", () => {
  it("a dead owner's pending entry is dropped by the next reserve: same id and slot again", async () => {
    await inject(path, entry("session", deadOwner(), { slot: 0 }));
    const e = await registry.reserve({ base: "session", slot });
    expect([e.id, e.slot]).toEqual(["session", 0]);
    expect((await rawEntries(path)).map((x) => x.owner.pid)).toEqual([process.pid]);
  });

  it("a refused reserve (id taken, slots full) still drops them from the file", async () => {
    await inject(
      path,
      entry("gone", deadOwner(), { slot: 0 }),
      entry("web", liveOwner(), { slot: 1 }),
    );
    await expect(registry.reserve({ id: "web" })).rejects.toBeInstanceOf(IdTakenError);
    expect((await rawEntries(path)).map((x) => x.id)).toEqual(["web"]);
  });

  it("list() and get() leave it out and drop it from the file", async () => {
    await inject(path, entry("gone", deadOwner(), { slot: 0 }), entry("kept", liveOwner()));
    expect(await registry.get("gone")).toBeUndefined();
    expect(await ids()).toEqual(["kept"]);
    expect((await rawEntries(path)).map((x) => x.id)).toEqual(["kept"]);
  });

  it("list() does not wait for a busy lock to drop it: it leaves it out and the file as is", async () => {
    await inject(path, entry("gone", deadOwner()));
    {
      await using _held = await acquireFileLock(registry.lockPath);
      expect(await ids()).toEqual([]);
      expect((await rawEntries(path)).map((x) => x.id)).toEqual(["gone"]);
    }
    expect(await ids()).toEqual([]);
    expect(await rawEntries(path)).toEqual([]);
  });

  it("a reused PID (same pid, another start time) counts as dead", async () => {
    await inject(path, entry("session", reusedPidOwner(), { slot: 0 }));
    const e = await registry.reserve({ base: "session", slot });
    expect([e.id, e.slot]).toEqual(["session", 0]);
  });

  it("a live owner's pending entry (same pid, same start time) is kept", async () => {
    await inject(path, entry("session", liveOwner(), { slot: 0 }));
    const e = await registry.reserve({ base: "session", slot });
    expect([e.id, e.slot]).toEqual(["session-2", 1]);
    expect(await registry.reclaim({ force: true })).toEqual([]);
  });

  it("active entries of dead owners are kept by reserve, list and reclaim; release(id) removes them", async () => {
    await inject(
      path,
      entry("web", deadOwner(), { status: "active", slot: 0 }),
      entry("db", reusedPidOwner(), { status: "active", slot: 1 }),
    );
    const err = (await registry.reserve({ id: "web" }).catch((e: unknown) => e)) as IdTakenError;
    expect(err).toBeInstanceOf(IdTakenError);
    expect(err.status).toBe("active");
    expect(err.message).toMatch(/active: committed by pid \d+ \(exited\)/);
    await expect(registry.reserve({ base: "x", slot })).rejects.toMatchObject({
      code: "EIDSEXHAUSTED",
    });
    expect(await registry.reclaim()).toEqual([]);
    expect(await registry.reclaim({ force: true })).toEqual([]);
    expect(await ids()).toEqual(["web", "db"]);
    expect(await registry.release("web")).toBe(true);
    expect(await ids()).toEqual(["db"]);
    expect((await registry.reserve({ id: "web", slot })).slot).toBe(0);
  });

  it("entries of another host are never reclaimed automatically, only with force", async () => {
    await inject(
      path,
      entry("remote", foreignOwner(), { slot: 0 }),
      entry("remote-active", foreignOwner(), { status: "active" }),
    );
    const taken = (await registry.reserve({ id: "remote" }).catch((e: unknown) => e)) as Error;
    expect(taken.message).toBe(
      `Id "remote" is taken (pending: another operation is in progress, pid 4242 on host "elsewhere.invalid" (not checkable from here) since ${new Date(
        (await rawEntries(path))[0]!.createdAt,
      ).toISOString()})`,
    );
    expect((await registry.reserve({ base: "s", slot })).slot).toBe(1);
    expect(await registry.reclaim()).toEqual([]);
    expect(await ids()).toEqual(["remote", "remote-active", "s"]);
    const dropped = await registry.reclaim({ force: true });
    expect(dropped.map((e) => e.id)).toEqual(["remote"]);
    expect(dropped[0]!.owner).toEqual(foreignOwner());
    expect(await ids()).toEqual(["remote-active", "s"]);
  });

  it("reclaim() drops and returns exactly the dead owners' pending entries", async () => {
    await inject(
      path,
      entry("a", deadOwner()),
      entry("b", liveOwner()),
      entry("c", reusedPidOwner()),
      entry("d", deadOwner(), { status: "active" }),
    );
    const before = readFileSync(path, "utf8");
    const dropped = await registry.reclaim();
    expect(dropped.map((e) => e.id)).toEqual(["a", "c"]);
    expect(dropped[0]).not.toHaveProperty("token");
    expect(readFileSync(path, "utf8")).not.toBe(before);
    expect(await ids()).toEqual(["b", "d"]);
    expect(await registry.reclaim()).toEqual([]);
  });
});
