import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";
import { StateFile } from "../../src/atomic/index.js";
import { processStartTime } from "../../src/process/index.js";

/** A stored entry as the file holds it (the public fields plus the claim token). */
export interface RawEntry {
  id: string;
  slot?: number;
  status: "pending" | "active";
  owner: { pid: number; processStartTime?: number; hostname: string };
  data: unknown;
  createdAt: number;
  token: string;
}

interface RawState {
  format: string;
  version: number;
  entries: RawEntry[];
}

const raw = (path: string) =>
  new StateFile<RawState>(path, {
    defaults: { format: "interlock.registry", version: 1, entries: [] },
  });

/** The file as stored, token included; `[]` if it does not exist. */
export async function rawEntries(path: string): Promise<RawEntry[]> {
  return (await raw(path).read()).entries;
}

/** Writes entries into the registry file under its lock, as another process would. */
export async function inject(path: string, ...entries: RawEntry[]): Promise<void> {
  await raw(path).update((s) => {
    s.entries.push(...entries);
    return s;
  });
}

/** Rewrites the owner of the entry `id`, e.g. to make it look like a reused PID. */
export async function setOwner(path: string, id: string, owner: RawEntry["owner"]): Promise<void> {
  await raw(path).update((s) => {
    const e = s.entries.find((x) => x.id === id);
    if (e === undefined) throw new Error(`no entry ${id}`);
    e.owner = owner;
    return s;
  });
}

let tokens = 0;
export function entry(
  id: string,
  owner: RawEntry["owner"],
  more: Partial<RawEntry> = {},
): RawEntry {
  return {
    id,
    status: "pending",
    owner,
    data: null,
    createdAt: Date.now(),
    token: `injected-${++tokens}`,
    ...more,
  };
}

/** An owner on this host whose PID cannot exist (above any pid_max): provably dead. */
export const deadOwner = () => ({ pid: 2 ** 30, hostname: hostname() });

/** An owner with a live PID (this process's) but another start time: a reused PID. */
export function reusedPidOwner(pid = process.pid) {
  const start = processStartTime(pid);
  if (start === undefined) throw new Error(`no start time for pid ${pid} on this platform`);
  return { pid, processStartTime: start + 1, hostname: hostname() };
}

/** The owner record of a live process on this host, start time included. */
export function liveOwner(pid = process.pid) {
  const start = processStartTime(pid);
  if (start === undefined) throw new Error(`no start time for pid ${pid} on this platform`);
  return { pid, processStartTime: start, hostname: hostname() };
}

/** An owner on another host: its liveness cannot be checked from here. */
export const foreignOwner = () => ({ pid: 4242, hostname: "elsewhere.invalid" });

export interface Reply {
  ok: boolean;
  [key: string]: any;
}

/**
 * A child running test/fixtures/ids-registry-child.ts, driven one command at a time
 * over IPC, so a test knows exactly when the child holds a pending entry.
 */
export class RegistryChild {
  readonly proc: ChildProcess;
  readonly exited: Promise<unknown>;
  #replies: Reply[] = [];
  #waiting: ((r: Reply) => void)[] = [];

  private constructor(proc: ChildProcess) {
    this.proc = proc;
    this.exited = once(proc, "exit");
    proc.on("message", (m: Reply) => {
      const w = this.#waiting.shift();
      if (w) w(m);
      else this.#replies.push(m);
    });
  }

  static async start(path: string): Promise<RegistryChild> {
    const proc = fork(
      fileURLToPath(new URL("../fixtures/ids-registry-child.ts", import.meta.url)),
      [path],
      { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] },
    );
    const child = new RegistryChild(proc);
    children.add(child);
    const ready = await child.next();
    if (!ready.ready) throw new Error(`child did not start: ${JSON.stringify(ready)}`);
    return child;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  next(): Promise<Reply> {
    const r = this.#replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      this.#waiting.push(resolve);
      this.exited.then(() => reject(new Error("child exited before replying")));
    });
  }

  /** Sends a command and waits for its reply; a failed command rejects. */
  async request(cmd: object): Promise<Reply> {
    this.proc.send(cmd);
    const r = await this.next();
    if (!r.ok) throw Object.assign(new Error(`child: ${r.message}`), r);
    return r;
  }

  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGKILL");
      await this.exited;
    }
  }
}

const children = new Set<RegistryChild>();
afterEach(async () => {
  await Promise.all([...children].map((c) => c.kill()));
  children.clear();
});
