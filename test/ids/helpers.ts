import { hostname } from "node:os";
import { StateFile } from "../../src/atomic/index.js";
import { processStartTime } from "../../src/process/index.js";
import { IpcChild, type Reply } from "../helpers/ipc-child.js";

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

/**
 * A child running test/fixtures/ids-registry-child.ts, driven one command at a time
 * over IPC, so a test knows exactly when the child holds a pending entry.
 */
export class RegistryChild extends IpcChild {
  static start(path: string): Promise<RegistryChild> {
    return IpcChild.launch((proc) => new RegistryChild(proc), "ids-registry-child", [path]);
  }

  /** Sends a command and waits for its reply; a failed command rejects. */
  override async request(cmd: object): Promise<Reply> {
    const r = await super.request(cmd);
    if (!r.ok) throw Object.assign(new Error(`child: ${r.message}`), r);
    return r;
  }
}
