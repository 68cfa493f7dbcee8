import { execFile, execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "vitest";

// The user's and the system's git config must not change what the tests see (a
// global hooksPath, init.defaultBranch, signing...). Set here, in this process, so
// interlock's own git commands (which inherit process.env) see it too.
process.env.GIT_CONFIG_GLOBAL = "/dev/null";
process.env.GIT_CONFIG_NOSYSTEM = "1";
for (const name of ["GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE"]) {
  delete process.env[name];
}

export const gitEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: "C" });

const identity = ["-c", "user.name=t", "-c", "user.email=t@t"];

/** Runs git synchronously; returns stdout without the final newline. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", [...identity, ...args], {
    cwd,
    env: gitEnv(),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).replace(/\n$/, "");
}

const execFileAsync = promisify(execFile);

/** Runs git asynchronously; returns stdout without the final newline. */
export async function gitAsync(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("git", [...identity, ...args], {
    cwd,
    env: gitEnv(),
    encoding: "utf8",
  });
  return stdout.replace(/\n$/, "");
}

export type ObjectFormat = "sha1" | "sha256";

/** A fresh repository in `dir/name`; returns its path. */
export function initRepo(dir: string, format: ObjectFormat = "sha1", name = "repo"): string {
  const repo = join(dir, name);
  mkdirSync(repo, { recursive: true });
  git(repo, "init", "-q", `--object-format=${format}`, "-b", "main");
  return repo;
}

const emptyTrees = new Map<string, string>();

function emptyTree(repo: string): string {
  let tree = emptyTrees.get(repo);
  if (tree === undefined) {
    tree = git(repo, "hash-object", "-w", "-t", "tree", "/dev/null");
    emptyTrees.set(repo, tree);
  }
  return tree;
}

/** A commit of the empty tree with `message`, on `parent` if given. */
export function commit(repo: string, parent: string | undefined, message: string): string {
  const p = parent === undefined ? [] : ["-p", parent];
  return git(repo, "commit-tree", emptyTree(repo), ...p, "-m", message);
}

export async function commitAsync(
  repo: string,
  parent: string | undefined,
  message: string,
): Promise<string> {
  const p = parent === undefined ? [] : ["-p", parent];
  return gitAsync(repo, "commit-tree", emptyTree(repo), ...p, "-m", message);
}

/** `git rev-parse --verify -q <ref>`, or undefined when it does not resolve. */
export function revParse(repo: string, ref: string): string | undefined {
  try {
    return git(repo, "rev-parse", "--verify", "-q", ref);
  } catch {
    return undefined;
  }
}

/**
 * The history of `ref`, tip first, as [oid, message] pairs; asserts it is one linear
 * chain (every commit has at most one parent, and it is the next one listed).
 */
export function linearChain(repo: string, ref: string): { oid: string; message: string }[] {
  const lines = git(repo, "log", "--format=%H %P%x09%s", ref).split("\n").filter(Boolean);
  const chain = lines.map((line) => {
    const [ids, message] = line.split("\t");
    const [oid, ...parents] = ids!.trim().split(" ");
    return { oid: oid!, parents, message: message! };
  });
  chain.forEach((c, i) => {
    expect(c.parents.length, `${c.oid} (${c.message}) has ${c.parents.length} parents`).toBe(
      i === chain.length - 1 ? 0 : 1,
    );
    if (i < chain.length - 1) expect(c.parents[0]).toBe(chain[i + 1]!.oid);
  });
  return chain.map(({ oid, message }) => ({ oid, message }));
}
