// Fencing tokens and lost locks: every grant's token is greater than every earlier
// grant's, across processes and restarts; a holder whose lock file was deleted or
// replaced can tell.
import { appendFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LockLostError } from "../../src/errors.js";
import { closeIdleFileLocks } from "../../src/file-lock/entry.js";
import { acquireFileLock } from "../../src/file-lock/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { LockChild } from "./helpers.js";

const tempDir = useTempDir();

describe("fencing tokens", () => {
  it("rise by one with every grant, shared or exclusive, and survive the descriptor", async () => {
    const path = join(tempDir(), "t.lock");
    const tokens: number[] = [];
    for (const mode of ["exclusive", "shared", "exclusive", "shared", "shared"] as const) {
      const lock = await acquireFileLock(path, { mode });
      tokens.push(lock.token);
      await lock.release();
    }
    // Two shared holders at once get two tokens.
    const a = await acquireFileLock(path, { mode: "shared" });
    const b = await acquireFileLock(path, { mode: "shared" });
    tokens.push(a.token, b.token);
    await a.release();
    await b.release();
    // A "restart": every cached descriptor closed; the token lives in the file.
    closeIdleFileLocks();
    const c = await acquireFileLock(path);
    tokens.push(c.token);
    await c.release();
    expect(tokens).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("grants across processes come in strictly increasing token order", async () => {
    const dir = tempDir();
    const path = join(dir, "shared-token.lock");
    const log = join(dir, "log");
    writeFileSync(log, "");
    const children = await Promise.all([1, 2, 3].map(() => LockChild.start()));
    // Each grant appends its token while it holds the lock, so the log is in grant order.
    const rounds = 15;
    await Promise.all(
      children.map(async (c) => {
        for (let i = 0; i < rounds; i++) {
          const r = await c.request({ op: "acquire", path });
          appendFileSync(log, `${r.token}\n`);
          await c.request({ op: "release", path });
        }
      }),
    );
    // The parent's appends happen between the child's acquire reply and its release,
    // i.e. while that child holds the lock.
    const seen = readFileSync(log, "utf8").trim().split("\n").map(Number);
    expect(seen).toHaveLength(3 * rounds);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
    const mine = await acquireFileLock(path);
    expect(mine.token).toBeGreaterThan(Math.max(...seen));
    await mine.release();
  });

  it("a lock file holding someone else's data has no token, and is left alone", async () => {
    const path = join(tempDir(), "data.txt");
    writeFileSync(path, "precious data\n");
    const lock = await acquireFileLock(path);
    expect(() => lock.token).toThrow(expect.objectContaining({ code: "ENOTOKEN" }));
    await lock.release();
    expect(readFileSync(path, "utf8")).toBe("precious data\n");
  });
});

describe("a held lock whose file is deleted or replaced", () => {
  it("verify() turns false and assertHeld() throws LockLostError", async () => {
    const path = join(tempDir(), "voided.lock");
    const lock = await acquireFileLock(path);
    expect(lock.verify()).toBe(true);
    expect(() => lock.assertHeld()).not.toThrow();
    rmSync(path);
    // Now another process can lock a new file at the same path.
    const intruder = await LockChild.start();
    expect((await intruder.request({ op: "try", path })).got).toBe(true);
    expect(lock.verify()).toBe(false);
    const err = (() => {
      try {
        lock.assertHeld();
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(LockLostError);
    expect(err).toMatchObject({ code: "ELOCKLOST", reason: "replaced", lock: path });
    await lock.release();
    expect(() => lock.assertHeld()).toThrow(expect.objectContaining({ reason: "released" }));
  });
});
