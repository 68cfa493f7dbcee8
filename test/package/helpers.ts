// Runs things inside the scratch project where the packed tarball is installed.
import { spawn } from "node:child_process";
import { chmodSync, chownSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, inject } from "vitest";

export const root = fileURLToPath(new URL("../..", import.meta.url));
export const app = (): string => inject("packageApp");
export const isRoot = process.getuid?.() === 0;
/** The unprivileged user checks also run as, when the suite runs as root. */
export const NOBODY = { uid: 65534, gid: 65534 };
/** The loader flag that lets node run the TypeScript examples. */
export const TSX = ["--import", pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href];

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node ...args` with cwd in the scratch project; as `user` when given. */
export function node(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; user?: typeof NOBODY } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, {
      cwd: options.cwd ?? app(),
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.user ?? {}),
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => (stdout += d));
    proc.stderr.on("data", (d) => (stderr += d));
    proc.on("error", reject);
    proc.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh scratch directory that `user` (or the current user) may write. */
export function scratchDir(user?: typeof NOBODY): string {
  const d = mkdtempSync(join(tmpdir(), "interlock-check-"));
  dirs.push(d);
  if (user !== undefined) chownSync(d, user.uid, user.gid);
  return d;
}

/** Copies `from` (relative to the repository) into the scratch project, world-readable. */
export function copyIntoApp(from: string, to: string): string {
  const dest = join(app(), to);
  cpSync(join(root, from), dest, { recursive: true });
  chmodSync(dest, 0o755);
  return dest;
}
