import { readdirSync, readlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type ChildOptions, IpcChild } from "../helpers/ipc-child.js";

export const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export type { Reply } from "../helpers/ipc-child.js";

/** A child running test/fixtures/file-lock-child.ts, driven one command at a time. */
export class LockChild extends IpcChild {
  static start(options: ChildOptions = {}): Promise<LockChild> {
    return IpcChild.launch((proc) => new LockChild(proc), "file-lock-child", [], options);
  }
}

/** Open descriptors of this process (Linux). */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Open descriptors of this process on files under `dir` (Linux). */
export function openFdsUnder(dir: string): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`)) n++;
    } catch {
      // Closed while we looked.
    }
  }
  return n;
}
