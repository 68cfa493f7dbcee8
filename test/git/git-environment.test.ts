import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  advanceRef,
  GitMissingError,
  NotAGitRepoError,
  readRef,
  updateRef,
  updateRefs,
} from "../../src/git/index.js";
import { runGit } from "../../src/git/run-git.js";
import { useTempDir } from "../helpers/temp-dir.js";
import { commit, git, initRepo, revParse } from "./helpers.js";

const tempDir = useTempDir();
const savedPath = process.env.PATH;
const savedLanguage = process.env.LANGUAGE;
afterEach(() => {
  process.env.PATH = savedPath;
  delete process.env.GIT_DIR;
  if (savedLanguage === undefined) delete process.env.LANGUAGE;
  else process.env.LANGUAGE = savedLanguage;
});

const oid = "a".repeat(40);
const calls = (cwd: string) => [
  () => readRef({ cwd, ref: "refs/heads/x" }),
  () => readRef({ cwd, ref: "HEAD" }),
  () => updateRef({ cwd, ref: "refs/heads/x", newOid: oid, expectedOid: null }),
  () => updateRefs({ cwd, updates: [{ ref: "refs/heads/x", newOid: oid, expectedOid: null }] }),
  () => advanceRef({ cwd, ref: "refs/heads/x" }, () => oid),
];

describe("where git cannot help", () => {
  it("a directory outside any repository: NotAGitRepoError (ENOTGITREPO) from every call", async () => {
    const cwd = tempDir();
    for (const call of calls(cwd)) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotAGitRepoError);
      expect(err).toMatchObject({ code: "ENOTGITREPO", cwd });
      expect((err as NotAGitRepoError).stderr).toMatch("not a git repository");
    }
  });

  it("a cwd that does not exist: NotAGitRepoError, not a missing git", async () => {
    const cwd = join(tempDir(), "gone");
    for (const call of calls(cwd)) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotAGitRepoError);
      expect((err as Error).message).toMatch("does not exist");
    }
  });

  it("no git on PATH: GitMissingError (EGITMISSING) from every call, no hang", async () => {
    const cwd = join(tempDir(), "fresh"); // never opened, so nothing is cached for it
    mkdirSync(cwd);
    process.env.PATH = tempDir(); // an empty directory
    for (const call of calls(cwd)) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GitMissingError);
      expect(err).toMatchObject({ code: "EGITMISSING" });
      expect((err as Error).message).toMatch(/ENOENT.*install git/);
    }
  });

  it("a GIT_DIR inherited from the environment (as inside a hook) does not redirect git", async () => {
    const dir = tempDir();
    const mine = initRepo(dir, "sha1", "mine");
    const other = initRepo(dir, "sha1", "other");
    const a = commit(mine, undefined, "a");
    process.env.GIT_DIR = join(other, ".git");
    await updateRef({ cwd: mine, ref: "refs/heads/x", newOid: a, expectedOid: null });
    delete process.env.GIT_DIR;
    expect(revParse(mine, "refs/heads/x")).toBe(a);
    expect(revParse(other, "refs/heads/x")).toBeUndefined();
  });
});

describe("a user whose git speaks German (LANGUAGE=de)", () => {
  it("still gets classified errors: git runs with LC_ALL=C", async () => {
    const cwd = initRepo(tempDir());
    const a = commit(cwd, undefined, "a");
    const b = commit(cwd, a, "b");
    git(cwd, "update-ref", "refs/heads/x", b);
    process.env.LANGUAGE = "de";
    // Control: this git really is translated here, so the test below can fail.
    const translated = spawnSync("git", ["rev-parse"], {
      cwd: tempDir(),
      env: { ...process.env, LC_ALL: "", LANG: "C.UTF-8" },
      encoding: "utf8",
    });
    expect(translated.stderr).not.toMatch("not a git repository");
    const err = await updateRef({
      cwd,
      ref: "refs/heads/x",
      newOid: a,
      expectedOid: a,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "EREFCONFLICT", actual: b });
    await expect(readRef({ cwd: tempDir(), ref: "HEAD" })).rejects.toMatchObject({
      code: "ENOTGITREPO",
    });
  });
});

describe("runGit", () => {
  it("passes the argv without a shell and sets LC_ALL=C and GIT_TERMINAL_PROMPT=0", async () => {
    const cwd = initRepo(tempDir());
    const weird = "$(touch pwned); `touch pwned2` 'quoted' \"double\"";
    const out = await runGit({ cwd, args: ["hash-object", "--stdin"], input: weird });
    expect(out.exitCode).toBe(0);
    const blob = createHash("sha1").update(`blob ${Buffer.byteLength(weird)}\0${weird}`);
    expect(out.stdout.trim()).toBe(blob.digest("hex"));
    expect(existsSync(join(cwd, "pwned"))).toBe(false);
    const fake = tempDir();
    writeFileSync(
      join(fake, "git"),
      '#!/bin/sh\nprintf "%s|%s|%s|%s" "$LC_ALL" "$GIT_TERMINAL_PROMPT" "$1" "$2"\n',
    );
    chmodSync(join(fake, "git"), 0o755);
    process.env.PATH = fake;
    const seen = await runGit({ cwd, args: ["a b", "$HOME;"] });
    expect(seen.stdout).toBe("C|0|a b|$HOME;");
  });

  it("an abort kills git and rejects with AbortError at once", async () => {
    const cwd = tempDir();
    const fake = tempDir();
    const pidFile = join(fake, "pid");
    // A git that hangs: it records its pid and sleeps.
    writeFileSync(join(fake, "git"), `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 60\n`);
    chmodSync(join(fake, "git"), 0o755);
    process.env.PATH = `${fake}:${savedPath}`;
    const ac = new AbortController();
    const run = runGit({ cwd, args: ["status"], signal: ac.signal });
    const deadline = Date.now() + 20_000;
    while (!existsSync(pidFile) || readFileSync(pidFile, "utf8") === "") {
      if (Date.now() > deadline) throw new Error("fake git never started");
      await new Promise((r) => setTimeout(r, 10));
    }
    const pid = Number(readFileSync(pidFile, "utf8"));
    const reason = new Error("enough");
    ac.abort(reason);
    await expect(run).rejects.toMatchObject({ name: "AbortError", cause: reason });
    // The child is gone (or a zombie about to be reaped): poll for it with a deadline.
    for (;;) {
      let alive = true;
      try {
        process.kill(pid, 0);
        const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
        if (state === "Z") alive = false;
      } catch {
        alive = false;
      }
      if (!alive) break;
      if (Date.now() > deadline) throw new Error(`git (pid ${pid}) still running after the abort`);
      await new Promise((r) => setTimeout(r, 10));
    }
  });
});
