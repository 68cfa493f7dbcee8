// Hand-off by wake-up: a waiter learns of a release from a watch on the lock file, not
// from its next poll. The polls are pushed out to seconds here, so only the wake-up can
// explain a prompt grant.
import { closeSync, existsSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BACKOFF } from "../../src/file-lock/backoff.js";
import { acquireFileLock } from "../../src/file-lock/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { LockChild } from "./helpers.js";

const fsx = createRequire(import.meta.url)("fs-ext") as typeof import("fs-ext");
const tempDir = useTempDir();
const saved = { ...BACKOFF };
beforeEach(() => {
  // First poll after ~5 s, and no sooner afterwards.
  Object.assign(BACKOFF, { firstMs: 5_000, minCapMs: 5_000, watchedMinCapMs: 5_000 });
});
afterEach(() => {
  Object.assign(BACKOFF, saved);
});

/** Resolves once some process holds `gate` (a safety-net deadline of 10 s). */
async function gateTaken(gate: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    if (existsSync(gate)) {
      const fd = openSync(gate, "r");
      try {
        fsx.flockSync(fd, "shnb");
        fsx.flockSync(fd, "un");
      } catch {
        return; // held exclusively: the writer is waiting with the gate
      } finally {
        closeSync(fd);
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error("the exclusive request never took the gate");
}

describe("hand-off by wake-up", () => {
  it.each(["exclusive", "shared"] as const)(
    "a %s waiter is granted promptly when another process releases, long before its next poll",
    async (mode) => {
      const path = join(tempDir(), "wake.lock");
      const holder = await LockChild.start();
      await holder.request({ op: "acquire", path });
      const waiting = acquireFileLock(path, { mode });
      // Let it find the lock busy and start waiting.
      await new Promise((r) => setImmediate(r));
      const released = performance.now();
      await holder.request({ op: "release", path });
      const lock = await waiting;
      expect(performance.now() - released).toBeLessThan(2_000);
      await lock.release();
    },
  );

  it("a waiter behind a writer gate is woken when the gate opens", async () => {
    const path = join(tempDir(), "gate.lock");
    const writer = await LockChild.start();
    await writer.request({ op: "acquire", path, mode: "shared" });
    // Another process's exclusive request waits, holding the gate.
    const gateHolder = await LockChild.start();
    gateHolder.send({ op: "acquire", path, timeoutMs: 20_000 });
    await gateTaken(`${path}.gate`);
    // A shared request here must wait at the gate, then get in once the writer is done.
    const reader = acquireFileLock(path, { mode: "shared", timeoutMs: 20_000 });
    await writer.request({ op: "release", path });
    expect((await gateHolder.next()).ok).toBe(true);
    const released = performance.now();
    await gateHolder.request({ op: "release", path });
    await (await reader).release();
    expect(performance.now() - released).toBeLessThan(2_000);
  });
});
