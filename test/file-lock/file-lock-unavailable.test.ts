import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useTempDir } from "../helpers/temp-dir.js";
import { fixture, LockChild } from "./helpers.js";

const tempDir = useTempDir();

describe("when fs-ext cannot be loaded", () => {
  it("every acquire rejects with FileLockUnavailableError EFLOCKUNAVAILABLE; nothing pretends to lock", async () => {
    const path = join(tempDir(), "x.lock");
    const child = await LockChild.start({ execArgv: ["--require", fixture("break-fs-ext.cjs")] });
    for (const cmd of [
      { op: "acquire", path },
      { op: "acquire", path, mode: "shared" },
      { op: "try", path },
      { op: "readHolder", path },
    ]) {
      const r = await child.request(cmd);
      expect(r, JSON.stringify(cmd)).toMatchObject({
        ok: false,
        name: "FileLockUnavailableError",
        code: "EFLOCKUNAVAILABLE",
      });
      expect(r.message).toMatch(/npm rebuild fs-ext/);
      expect(r.causeMessage).toMatch(/NODE_MODULE_VERSION/);
    }
    // Refused before touching the filesystem.
    expect(existsSync(path)).toBe(false);
  });
});
