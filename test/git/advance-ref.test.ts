import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LockTimeoutError } from "../../src/errors.js";
import { readLockHolder } from "../../src/file-lock/index.js";
import { refLockPath } from "../../src/git/advance-ref.js";
import {
  advanceRef,
  type GitError,
  RefConflictError,
  RefExistsError,
  RefLockedError,
  RefNotFoundError,
} from "../../src/git/index.js";
import { useTempDir } from "../helpers/temp-dir.js";
import {
  commit,
  commitAsync,
  git,
  gitAsync,
  initRepo,
  linearChain,
  type ObjectFormat,
  revParse,
} from "./helpers.js";

const tempDir = useTempDir();
const ref = "refs/heads/shadow";

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe.each(["sha1", "sha256"] as ObjectFormat[])("advanceRef in a %s repository", (format) => {
  it("creates the ref when it does not exist (build gets undefined), then advances it", async () => {
    const cwd = initRepo(tempDir(), format);
    const tips: (string | undefined)[] = [];
    const build = (tip: string | undefined) => {
      tips.push(tip);
      return commitAsync(cwd, tip, `c${tips.length}`);
    };
    const first = await advanceRef({ cwd, ref }, build);
    const second = await advanceRef({ cwd, ref }, build);
    expect(first.attempts).toBe(1);
    expect(second.attempts).toBe(1);
    expect(tips).toEqual([undefined, first.oid]);
    expect(revParse(cwd, ref)).toBe(second.oid);
    expect(linearChain(cwd, ref).map((c) => c.message)).toEqual(["c2", "c1"]);
  });

  it("many concurrent calls in one process: every commit lands on one chain, none retried", async () => {
    const cwd = initRepo(tempDir(), format);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        advanceRef({ cwd, ref }, (tip) => commitAsync(cwd, tip, `c${i}`)),
      ),
    );
    expect(results.map((r) => r.attempts)).toEqual(Array(8).fill(1));
    const chain = linearChain(cwd, ref);
    expect(chain).toHaveLength(8);
    expect(new Set(chain.map((c) => c.oid))).toEqual(new Set(results.map((r) => r.oid)));
  });
});

describe("advanceRef against writers that bypass its lock", () => {
  it("a CAS write during build: the attempt is rebuilt on the new tip, the loser goes to onConflict", async () => {
    const cwd = initRepo(tempDir());
    const base = commit(cwd, undefined, "base");
    git(cwd, "update-ref", ref, base);
    const intruder = commit(cwd, base, "intruder");
    const tips: (string | undefined)[] = [];
    const lost: [string, GitError][] = [];
    const result = await advanceRef(
      { cwd, ref, onConflict: (oid, err) => void lost.push([oid, err]) },
      async (tip, { attempt }) => {
        tips.push(tip);
        const mine = await commitAsync(cwd, tip, `mine ${attempt}`);
        if (attempt === 1) git(cwd, "update-ref", ref, intruder, base);
        return mine;
      },
    );
    expect(result.attempts).toBe(2);
    expect(tips).toEqual([base, intruder]);
    expect(lost).toHaveLength(1);
    expect(lost[0]![1]).toBeInstanceOf(RefConflictError);
    expect(lost[0]![0]).not.toBe(result.oid);
    // The intruder's commit is kept, under ours.
    expect(linearChain(cwd, ref).map((c) => c.message)).toEqual(["mine 2", "intruder", "base"]);
  });

  it("out of attempts: RefConflictError with attempts, nothing of ours written, every loser reported", async () => {
    const cwd = initRepo(tempDir());
    let tip = commit(cwd, undefined, "base");
    git(cwd, "update-ref", ref, tip);
    const lost: string[] = [];
    const seen: string[] = [];
    const err = await advanceRef(
      { cwd, ref, attempts: 3, onConflict: (oid) => void lost.push(oid) },
      async (current) => {
        seen.push(current!);
        const mine = await commitAsync(cwd, current, "mine");
        const next = commit(cwd, tip, `intruder ${seen.length}`);
        git(cwd, "update-ref", ref, next, tip);
        tip = next;
        return mine;
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefConflictError);
    expect(err).toMatchObject({
      code: "EREFCONFLICT",
      ref,
      attempts: 3,
      expected: seen[2],
      actual: tip,
    });
    expect((err as Error).message).toMatch(/all 3 attempts/);
    expect((err as RefConflictError).stderr).toMatch("but expected");
    expect(lost).toHaveLength(3);
    expect(revParse(cwd, ref)).toBe(tip);
    expect(linearChain(cwd, ref).map((c) => c.message)).toEqual([
      "intruder 3",
      "intruder 2",
      "intruder 1",
      "base",
    ]);
  });

  it("the ref created or deleted behind its back: retried (RefExistsError, RefNotFoundError)", async () => {
    const cwd = initRepo(tempDir());
    const other = commit(cwd, undefined, "other");
    const errors: GitError[] = [];
    const created = await advanceRef(
      { cwd, ref, onConflict: (_, e) => void errors.push(e) },
      async (tip, { attempt }) => {
        if (attempt === 1) git(cwd, "update-ref", ref, other, "");
        return commitAsync(cwd, tip, `on ${tip === undefined ? "nothing" : "other"}`);
      },
    );
    expect(errors[0]).toBeInstanceOf(RefExistsError);
    expect(created.attempts).toBe(2);
    expect(linearChain(cwd, ref).map((c) => c.message)).toEqual(["on other", "other"]);

    const deleted = await advanceRef(
      { cwd, ref, onConflict: (_, e) => void errors.push(e) },
      async (tip, { attempt }) => {
        if (attempt === 1) git(cwd, "update-ref", "-d", ref);
        return commitAsync(cwd, tip, `after ${tip === undefined ? "delete" : "other"}`);
      },
    );
    expect(errors[1]).toBeInstanceOf(RefNotFoundError);
    expect(deleted.attempts).toBe(2);
    expect(linearChain(cwd, ref).map((c) => c.message)).toEqual(["after delete"]);
  });

  it("git's own ref lock busy (another git process mid-update): retried", async () => {
    const cwd = initRepo(tempDir());
    const base = commit(cwd, undefined, "base");
    git(cwd, "update-ref", ref, base);
    const gitLock = join(cwd, ".git", "refs", "heads", "shadow.lock");
    const errors: GitError[] = [];
    const result = await advanceRef(
      {
        cwd,
        ref,
        onConflict: (_, e) => {
          errors.push(e);
          rmSync(gitLock); // the other git process finishes
        },
      },
      async (tip, { attempt }) => {
        if (attempt === 1) writeFileSync(gitLock, "");
        return commitAsync(cwd, tip, "mine");
      },
    );
    expect(errors.map((e) => e.constructor)).toEqual([RefLockedError]);
    expect(result.attempts).toBe(2);
    expect(revParse(cwd, ref)).toBe(result.oid);
  });
});

describe("advanceRef's lock", () => {
  it("lives under the common git dir in interlock's own folder, never in refs/", async () => {
    const cwd = initRepo(tempDir());
    await advanceRef({ cwd, ref }, (tip) => commitAsync(cwd, tip, "c"));
    const lockPath = join(cwd, ".git", "interlock", "refs", "refs%2Fheads%2Fshadow.lock");
    expect(refLockPath(join(cwd, ".git"), ref)).toBe(lockPath);
    expect(existsSync(lockPath)).toBe(true);
    expect(readdirSync(join(cwd, ".git", "refs", "heads"))).toEqual(["shadow"]);
    expect(git(cwd, "for-each-ref", "--format=%(refname)")).toBe(ref);
    git(cwd, "fsck", "--no-progress");
    git(cwd, "gc", "-q");
    expect(revParse(cwd, ref)).toBeDefined();
  });

  it("is held during build and names its purpose", async () => {
    const cwd = initRepo(tempDir());
    let holder: any;
    await advanceRef({ cwd, ref }, async (tip) => {
      holder = await readLockHolder(refLockPath(join(cwd, ".git"), ref));
      return commitAsync(cwd, tip, "c");
    });
    expect(holder).toMatchObject({ pid: process.pid, purpose: `advanceRef ${ref}` });
  });

  it("long ref names get a bounded file name", () => {
    const long = `refs/heads/${"x".repeat(300)}`;
    const name = refLockPath("/r/.git", long).split("/").pop()!;
    expect(name.length).toBeLessThan(255);
    expect(refLockPath("/r/.git", `${long}y`)).not.toBe(refLockPath("/r/.git", long));
  });

  it("is shared by a linked worktree (from a subdirectory of it)", async () => {
    const dir = tempDir();
    const main = initRepo(dir);
    const base = commit(main, undefined, "base");
    git(main, "update-ref", "refs/heads/main", base);
    const linked = join(dir, "linked");
    git(main, "worktree", "add", "-q", "--detach", linked, base);
    const sub = join(linked, "deep", "sub");
    mkdirSync(sub, { recursive: true });

    const inBuild = deferred();
    const finish = deferred();
    const first = advanceRef({ cwd: main, ref }, async (tip) => {
      inBuild.resolve();
      await finish.promise;
      return commitAsync(main, tip, "from main");
    });
    await inBuild.promise;
    // While the main worktree's call holds the lock, the linked one cannot take it.
    const busy = await advanceRef({ cwd: sub, ref, timeoutMs: 0 }, () => {
      throw new Error("build ran while the lock was held");
    }).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(LockTimeoutError);
    finish.resolve();
    const a = await first;
    const b = await advanceRef({ cwd: sub, ref }, (tip) => commitAsync(sub, tip, "from linked"));
    expect([a.attempts, b.attempts]).toEqual([1, 1]);
    expect(linearChain(main, ref).map((c) => c.message)).toEqual(["from linked", "from main"]);
  });

  it("lock: false takes no lock and still lands every commit by compare-and-swap", async () => {
    const cwd = initRepo(tempDir());
    // Every first attempt reads before any writes: exactly one of them can win.
    let arrived = 0;
    const allRead = deferred();
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        advanceRef({ cwd, ref, lock: false, attempts: 50 }, async (tip, { attempt }) => {
          if (attempt === 1 && ++arrived === 4) allRead.resolve();
          if (attempt === 1) await allRead.promise;
          return commitAsync(cwd, tip, `c${i}`);
        }),
      ),
    );
    expect(existsSync(join(cwd, ".git", "interlock"))).toBe(false);
    expect(linearChain(cwd, ref)).toHaveLength(4);
    expect(results.filter((r) => r.attempts === 1)).toHaveLength(1);
  });
});

describe("advanceRef cancellation and failures", () => {
  it("an already aborted signal: AbortError, build never runs", async () => {
    const cwd = initRepo(tempDir());
    const reason = new Error("no");
    const err = await advanceRef({ cwd, ref, signal: AbortSignal.abort(reason) }, () => {
      throw new Error("built");
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "AbortError", cause: reason });
  });

  it("aborted during build: the ref is not updated and the lock is released", async () => {
    const cwd = initRepo(tempDir());
    const ac = new AbortController();
    const err = await advanceRef({ cwd, ref, signal: ac.signal }, async (tip) => {
      const oid = await commitAsync(cwd, tip, "c");
      ac.abort(new Error("user"));
      return oid;
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "AbortError" });
    expect((err as Error).message).toMatch("the ref was not updated");
    expect(revParse(cwd, ref)).toBeUndefined();
    const next = await advanceRef({ cwd, ref, timeoutMs: 0 }, (tip) => commitAsync(cwd, tip, "d"));
    expect(next.attempts).toBe(1);
  });

  it("aborted while waiting for the lock: rejects, its build never runs, the holder is unaffected", async () => {
    const cwd = initRepo(tempDir());
    const inBuild = deferred();
    const finish = deferred();
    const holder = advanceRef({ cwd, ref }, async (tip) => {
      inBuild.resolve();
      await finish.promise;
      return commitAsync(cwd, tip, "holder");
    });
    await inBuild.promise;
    const ac = new AbortController();
    const waiter = advanceRef({ cwd, ref, signal: ac.signal }, () => {
      throw new Error("built");
    });
    ac.abort(new Error("bored"));
    await expect(waiter).rejects.toMatchObject({ name: "AbortError" });
    finish.resolve();
    await holder;
    expect(linearChain(cwd, ref).map((c) => c.message)).toEqual(["holder"]);
  });

  it("aborted between attempts: no further build", async () => {
    const cwd = initRepo(tempDir());
    const base = commit(cwd, undefined, "base");
    git(cwd, "update-ref", ref, base);
    const ac = new AbortController();
    let builds = 0;
    const err = await advanceRef(
      { cwd, ref, signal: ac.signal, onConflict: () => ac.abort(new Error("stop")) },
      async (tip) => {
        builds++;
        const mine = await commitAsync(cwd, tip, "mine");
        await gitAsync(cwd, "update-ref", ref, commit(cwd, tip, "intruder"), tip!);
        return mine;
      },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "AbortError" });
    expect(builds).toBe(1);
  });

  it("build that throws or returns a non-oid: rejects, nothing written, lock released", async () => {
    const cwd = initRepo(tempDir());
    await expect(
      advanceRef({ cwd, ref }, () => {
        throw new Error("build broke");
      }),
    ).rejects.toThrow("build broke");
    await expect(advanceRef({ cwd, ref }, () => "HEAD")).rejects.toThrow(
      /`build` to return .*got the string "HEAD"/,
    );
    await expect(advanceRef({ cwd, ref }, () => "1".repeat(64))).rejects.toThrow(RangeError);
    expect(revParse(cwd, ref)).toBeUndefined();
    const ok = await advanceRef({ cwd, ref, timeoutMs: 0 }, (tip) => commitAsync(cwd, tip, "c"));
    expect(revParse(cwd, ref)).toBe(ok.oid);
  });

  it("an oid git does not have: ObjectMissingError, not retried", async () => {
    const cwd = initRepo(tempDir());
    let builds = 0;
    await expect(
      advanceRef({ cwd, ref }, () => {
        builds++;
        return "ab".repeat(20);
      }),
    ).rejects.toMatchObject({ code: "EOBJECTMISSING" });
    expect(builds).toBe(1);
  });

  it("checks its arguments synchronously", () => {
    const build = () => "a".repeat(40);
    const cwd = "/x";
    expect(() => advanceRef({ cwd, ref, attempts: 0 }, build)).toThrow(RangeError);
    expect(() => advanceRef({ cwd, ref, attempts: 1.5 }, build)).toThrow(/the number 1.5/);
    expect(() => advanceRef({ cwd, ref, attempts: "3" as any }, build)).toThrow(/the string "3"/);
    expect(() => advanceRef({ cwd, ref, lock: "yes" as any }, build)).toThrow(TypeError);
    expect(() => advanceRef({ cwd, ref, onConflict: 1 as any }, build)).toThrow(TypeError);
    expect(() => advanceRef({ cwd, ref, timeoutMs: -1 }, build)).toThrow(RangeError);
    expect(() => advanceRef({ cwd, ref: "shadow" }, build)).toThrow(/got the string "shadow"/);
    expect(() => advanceRef({ cwd, ref: "HEAD" }, build)).toThrow(TypeError);
    expect(() => advanceRef({ cwd, ref }, undefined as any)).toThrow(/`build` to be a function/);
  });
});
