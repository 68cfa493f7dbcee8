import { getEventListeners } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readRef } from "../../src/git/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { commit, git, initRepo, type ObjectFormat, revParse } from "./helpers.js";

const tempDir = useTempDir();

describe.each(["sha1", "sha256"] as ObjectFormat[])("readRef in a %s repository", (format) => {
  it("agrees with git for loose, packed, shadowed, symbolic, missing and tag refs", async () => {
    const cwd = initRepo(tempDir(), format);
    const a = commit(cwd, undefined, "a");
    const b = commit(cwd, a, "b");
    git(cwd, "update-ref", "refs/heads/packed", a);
    git(cwd, "update-ref", "refs/heads/shadowed", a);
    git(cwd, "tag", "-a", "-m", "annotated", "v1", b);
    git(cwd, "pack-refs", "--all");
    git(cwd, "update-ref", "refs/heads/shadowed", b); // loose now, a stale copy in packed-refs
    git(cwd, "update-ref", "refs/heads/loose", b);
    git(cwd, "update-ref", "refs/heads/dir/inside", b);
    git(cwd, "symbolic-ref", "refs/heads/sym", "refs/heads/loose");
    git(cwd, "symbolic-ref", "HEAD", "refs/heads/packed");
    const cases = [
      "refs/heads/packed",
      "refs/heads/shadowed",
      "refs/heads/loose",
      "refs/heads/sym",
      "refs/heads/dir", // a directory, not a ref
      "refs/heads/missing",
      "refs/tags/v1",
      "HEAD",
    ];
    for (const ref of cases) {
      expect(await readRef({ cwd, ref }), ref).toBe(revParse(cwd, ref));
    }
    expect(await readRef({ cwd, ref: "refs/heads/shadowed" })).toBe(b);
    expect(await readRef({ cwd, ref: "refs/tags/v1" })).not.toBe(b); // the tag object
    expect(await readRef({ cwd, ref: "refs/heads/missing" })).toBeUndefined();
  });

  it("HEAD: unborn is undefined, detached is the commit", async () => {
    const cwd = initRepo(tempDir(), format);
    expect(await readRef({ cwd, ref: "HEAD" })).toBeUndefined();
    const a = commit(cwd, undefined, "a");
    git(cwd, "update-ref", "--no-deref", "HEAD", a);
    expect(await readRef({ cwd, ref: "HEAD" })).toBe(a);
  });

  it("reads from a subdirectory of the work tree", async () => {
    const cwd = initRepo(tempDir(), format);
    const a = commit(cwd, undefined, "a");
    git(cwd, "update-ref", "refs/heads/x", a);
    mkdirSync(join(cwd, "deep", "er"), { recursive: true });
    expect(await readRef({ cwd: join(cwd, "deep", "er"), ref: "refs/heads/x" })).toBe(a);
  });

  it("falls back to git for a loose ref file it does not understand", async () => {
    const cwd = initRepo(tempDir(), format);
    const a = commit(cwd, undefined, "a");
    git(cwd, "update-ref", "refs/heads/x", a);
    // git reads the id and ignores what follows a space; the fast path asks git.
    writeFileSync(join(cwd, ".git", "refs", "heads", "x"), `${a} written by hand\n`);
    expect(await readRef({ cwd, ref: "refs/heads/x" })).toBe(a);
  });
});

describe("readRef arguments", () => {
  it("refuses short names and bad names synchronously, saying what was passed", () => {
    expect(() => readRef({ cwd: "/x", ref: "main" })).toThrow(/got the string "main"/);
    expect(() => readRef({ cwd: "/x", ref: "refs/heads/a..b" })).toThrow(TypeError);
    expect(() => readRef({ cwd: "/x", ref: "refs/heads/x", signal: {} as any })).toThrow(TypeError);
  });

  it("an aborted signal rejects with AbortError", async () => {
    const cwd = initRepo(tempDir());
    const reason = new Error("stop");
    await expect(
      readRef({ cwd, ref: "HEAD", signal: AbortSignal.abort(reason) }),
    ).rejects.toMatchObject({ name: "AbortError", cause: reason });
  });

  it("git runs sharing one signal add one abort listener between them", async () => {
    const cwd = initRepo(tempDir());
    const a = commit(cwd, undefined, "a");
    // Refs written by hand, which readRef's fast path leaves to git: 12 git processes.
    for (let i = 0; i < 12; i++) {
      writeFileSync(join(cwd, ".git", "refs", "heads", `r${i}`), `${a} written by hand\n`);
    }
    const signal = new AbortController().signal;
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      let done = false;
      const all = Promise.all(
        Array.from({ length: 12 }, (_, i) => readRef({ cwd, ref: `refs/heads/r${i}`, signal })),
      ).finally(() => {
        done = true;
      });
      let most = 0;
      while (!done) {
        most = Math.max(most, getEventListeners(signal, "abort").length);
        await new Promise((r) => setImmediate(r));
      }
      expect(await all).toEqual(Array.from({ length: 12 }, () => a));
      expect(most).toBe(1);
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });
});
