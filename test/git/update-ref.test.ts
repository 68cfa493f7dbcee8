import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  GitError,
  GitHookError,
  ObjectMissingError,
  RefConflictError,
  RefExistsError,
  RefLockedError,
  RefNameError,
  RefNotFoundError,
  readRef,
  updateRef,
} from "../../src/git/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { commit, git, initRepo, type ObjectFormat, revParse } from "./helpers.js";

const tempDir = useTempDir();

/** Runs `p`, which must reject, and returns what it rejected with. */
async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

describe.each(["sha1", "sha256"] as ObjectFormat[])("updateRef in a %s repository", (format) => {
  const hexLength = format === "sha1" ? 40 : 64;
  const setup = () => {
    const cwd = initRepo(tempDir(), format);
    const a = commit(cwd, undefined, "a");
    const b = commit(cwd, a, "b");
    expect(a).toHaveLength(hexLength);
    return { cwd, a, b };
  };
  const ref = "refs/heads/work";

  it("creates a ref that must not exist (expectedOid: null), with the zero id of this hash", async () => {
    const { cwd, a } = setup();
    await updateRef({ cwd, ref, newOid: a, expectedOid: null });
    expect(revParse(cwd, ref)).toBe(a);
    expect(await readRef({ cwd, ref })).toBe(a);
  });

  it("moves a ref that is at expectedOid", async () => {
    const { cwd, a, b } = setup();
    git(cwd, "update-ref", ref, a);
    await updateRef({ cwd, ref, newOid: b, expectedOid: a });
    expect(revParse(cwd, ref)).toBe(b);
  });

  it("conflict: a ref at another oid is left alone, RefConflictError says where it is", async () => {
    const { cwd, a, b } = setup();
    git(cwd, "update-ref", ref, b);
    const err = await rejection(updateRef({ cwd, ref, newOid: a, expectedOid: a }));
    expect(err).toBeInstanceOf(RefConflictError);
    expect(err).toBeInstanceOf(GitError);
    expect(err).toMatchObject({ code: "EREFCONFLICT", ref, expected: a, actual: b, attempts: 1 });
    expect(err.stderr).toMatch(`is at ${b} but expected ${a}`);
    expect(err.exitCode).toBe(128);
    expect(err.args).toContain("update-ref");
    expect(revParse(cwd, ref)).toBe(b);
  });

  it("exists: creating a ref that exists is refused with RefExistsError", async () => {
    const { cwd, a, b } = setup();
    git(cwd, "update-ref", ref, a);
    const err = await rejection(updateRef({ cwd, ref, newOid: b, expectedOid: null }));
    expect(err).toBeInstanceOf(RefExistsError);
    expect(err).toMatchObject({ code: "EREFEXISTS", ref });
    expect(err.stderr).toMatch("reference already exists");
    expect(revParse(cwd, ref)).toBe(a);
  });

  it("git's all-zero id as expectedOid means null", async () => {
    const { cwd, a } = setup();
    await updateRef({ cwd, ref, newOid: a, expectedOid: "0".repeat(hexLength) });
    expect(revParse(cwd, ref)).toBe(a);
    const err = await rejection(
      updateRef({ cwd, ref, newOid: a, expectedOid: "0".repeat(hexLength) }),
    );
    expect(err.code).toBe("EREFEXISTS");
  });

  it("not found: expecting an oid of a missing ref is refused with RefNotFoundError", async () => {
    const { cwd, a, b } = setup();
    const err = await rejection(updateRef({ cwd, ref, newOid: b, expectedOid: a }));
    expect(err).toBeInstanceOf(RefNotFoundError);
    expect(err).toMatchObject({ code: "EREFNOTFOUND", ref, expected: a });
    expect(revParse(cwd, ref)).toBeUndefined();
  });

  it("ref lock busy: git's own <ref>.lock held gives RefLockedError naming it", async () => {
    const { cwd, a, b } = setup();
    git(cwd, "update-ref", ref, a);
    const lockPath = join(cwd, ".git", "refs", "heads", "work.lock");
    writeFileSync(lockPath, "");
    const err = await rejection(updateRef({ cwd, ref, newOid: b, expectedOid: a }));
    expect(err).toBeInstanceOf(RefLockedError);
    expect(err).toMatchObject({ code: "EREFLOCKED", ref, lockPath });
    expect(err.stderr).toMatch("File exists");
    expect(revParse(cwd, ref)).toBe(a);
  });

  it("missing object: an oid the repository does not have gives ObjectMissingError", async () => {
    const { cwd } = setup();
    const ghost = "ab".repeat(hexLength / 2);
    const err = await rejection(updateRef({ cwd, ref, newOid: ghost, expectedOid: null }));
    expect(err).toBeInstanceOf(ObjectMissingError);
    expect(err).toMatchObject({ code: "EOBJECTMISSING", ref, oid: ghost });
    expect(revParse(cwd, ref)).toBeUndefined();
  });

  it("hook rejected: a reference-transaction hook's refusal gives GitHookError with its words", async () => {
    const { cwd, a } = setup();
    const hook = join(cwd, ".git", "hooks", "reference-transaction");
    mkdirSync(join(cwd, ".git", "hooks"), { recursive: true });
    writeFileSync(hook, '#!/bin/sh\ncat >/dev/null\necho "no checkpoints here" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    const err = await rejection(updateRef({ cwd, ref, newOid: a, expectedOid: null }));
    expect(err).toBeInstanceOf(GitHookError);
    expect(err.code).toBe("EGITHOOK");
    expect(err.stderr).toMatch("no checkpoints here");
    expect(revParse(cwd, ref)).toBeUndefined();
  });

  it("invalid name by git's rules: refs/heads/work/x while refs/heads/work exists gives RefNameError", async () => {
    const { cwd, a } = setup();
    git(cwd, "update-ref", ref, a);
    const err = await rejection(updateRef({ cwd, ref: `${ref}/x`, newOid: a, expectedOid: null }));
    expect(err).toBeInstanceOf(RefNameError);
    expect(err.code).toBe("EREFNAME");
  });

  it("deletes with newOid: null, only from the expected oid", async () => {
    const { cwd, a, b } = setup();
    git(cwd, "update-ref", ref, a);
    const err = await rejection(updateRef({ cwd, ref, newOid: null, expectedOid: b }));
    expect(err.code).toBe("EREFCONFLICT");
    expect(revParse(cwd, ref)).toBe(a);
    await updateRef({ cwd, ref, newOid: null, expectedOid: a });
    expect(revParse(cwd, ref)).toBeUndefined();
    // "Delete what must not exist" checks absence and changes nothing.
    await updateRef({ cwd, ref, newOid: null, expectedOid: null });
    git(cwd, "update-ref", ref, a);
    expect((await rejection(updateRef({ cwd, ref, newOid: null, expectedOid: null }))).code).toBe(
      "EREFEXISTS",
    );
  });

  it("writes the reflog message", async () => {
    const { cwd, a } = setup();
    await updateRef({ cwd, ref, newOid: a, expectedOid: null, message: "checkpoint 1" });
    expect(readFileSync(join(cwd, ".git", "logs", ref), "utf8")).toMatch(/\tcheckpoint 1\n$/);
  });

  it("refuses, before git runs, an oid of the other hash's length (RangeError)", async () => {
    const { cwd, a } = setup();
    const other = "1".repeat(hexLength === 40 ? 64 : 40);
    const err = await rejection(updateRef({ cwd, ref, newOid: other, expectedOid: null }));
    expect(err).toBeInstanceOf(RangeError);
    expect(err.message).toMatch(`${format} repository`);
    const err2 = await rejection(updateRef({ cwd, ref, newOid: a, expectedOid: other }));
    expect(err2).toBeInstanceOf(RangeError);
    expect(revParse(cwd, ref)).toBeUndefined();
  });
});

describe("updateRef arguments (checked synchronously, before git runs)", () => {
  const oid = "a".repeat(40);
  const cwd = "/nonexistent";
  it.each([
    ["main", /full ref name starting with "refs\/".*got the string "main"/],
    ["HEAD", /full ref name starting with "refs\/"/],
    ["refs/heads/a..b", /contains "\.\."/],
    ["refs/heads/a b", /contains a space/],
    ["refs/heads/a.lock", /ending in "\.lock"/],
    ["refs/heads/.hidden", /starting with a dot/],
    ["refs/heads/x/", /empty path component/],
    ["refs/heads/a@{1}", /contains "@\{"/],
    ["refs/heads/a\nb", /control character/],
    ["refs/heads/a\0b", /control character/],
    [42, /got the number 42/],
  ])("refuses ref %j", (ref, message) => {
    expect(() => updateRef({ cwd, ref: ref as string, newOid: oid, expectedOid: null })).toThrow(
      TypeError,
    );
    expect(() => updateRef({ cwd, ref: ref as string, newOid: oid, expectedOid: null })).toThrow(
      message,
    );
  });

  it.each([
    ["abc123", /40 or 64 hex digits.*got the string "abc123"/],
    ["g".repeat(40), /40 or 64 hex digits/],
    ["a".repeat(41), /40 or 64 hex digits/],
    ["HEAD", /not an abbreviation or a ref name/],
    [undefined, /there is no unchecked update/],
  ])("refuses newOid %j", (newOid, message) => {
    expect(() =>
      updateRef({ cwd, ref: "refs/heads/x", newOid: newOid as string, expectedOid: null }),
    ).toThrow(message);
  });

  it("refuses an undefined expectedOid: there is no unconditional update", () => {
    expect(() =>
      updateRef({ cwd, ref: "refs/heads/x", newOid: oid, expectedOid: undefined as any }),
    ).toThrow(/expectedOid.*there is no unchecked update/);
  });

  it("refuses the zero id as newOid (null deletes)", () => {
    expect(() =>
      updateRef({ cwd, ref: "refs/heads/x", newOid: "0".repeat(40), expectedOid: null }),
    ).toThrow(/pass `newOid: null` to delete/);
  });

  it("refuses a missing cwd and non-object options", () => {
    expect(() => updateRef({ ref: "refs/heads/x", newOid: oid, expectedOid: null } as any)).toThrow(
      /`cwd`.*got undefined/,
    );
    expect(() => updateRef(undefined as any)).toThrow(TypeError);
  });

  it("accepts upper-case hex and writes it in lower case", async () => {
    const repo = initRepo(tempDir());
    const a = commit(repo, undefined, "a");
    await updateRef({ cwd: repo, ref: "refs/heads/x", newOid: a.toUpperCase(), expectedOid: null });
    expect(revParse(repo, "refs/heads/x")).toBe(a);
    expect(existsSync(join(repo, ".git", "refs", "heads", "x"))).toBe(true);
  });
});
