// Across processes, a writer is never starved by readers: once it waits, it holds the
// writer gate, and no shared request of any process gets in after it.
import { fork } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { acquireFileLock } from "../../src/file-lock/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { fixture } from "./helpers.js";

const tempDir = useTempDir();

describe("writer fairness across processes", () => {
  it("an exclusive waiter gets in while 4 processes keep overlapping shared holds", async () => {
    const path = join(tempDir(), "rw.lock");
    const readers = Array.from({ length: 4 }, (_, i) =>
      fork(fixture("file-lock-reader-loop.ts"), [path, String(30 + 7 * i)], {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      }),
    );
    try {
      await Promise.all(readers.map((r) => once(r, "message")));
      // The readers overlap: without a gate the file is never free, and the writer
      // would wait until the readers stop (they never do on their own).
      const writer = await acquireFileLock(path, { timeoutMs: 10_000 });
      expect(writer.mode).toBe("exclusive");
      // Still running: the grant came while readers kept asking, not after they quit.
      expect(readers.every((r) => r.exitCode === null)).toBe(true);
      await writer.release();
      // And the readers were not starved in turn: they all go on after the writer.
      const done = readers.map((r) => once(r, "message"));
      for (const r of readers) r.send("stop");
      const grants = (await Promise.all(done)).map(([m]) => (m as { grants: number }).grants);
      expect(grants.every((g) => g >= 2)).toBe(true);
    } finally {
      for (const r of readers) if (r.exitCode === null) r.kill("SIGKILL");
    }
  });
});
