// The cross-process registry behind query(): one small JSON file per waiting request
// and per shared holder, in `<dir>/.registry/`.
//
// Why only those: an exclusive holder is already visible to every process through the
// holder record the file-lock engine writes into the lock file (the manager adds its
// fields to it), so the uncontended exclusive request, the common case, writes nothing
// here. A request writes its entry only once it has actually waited for a turn of the
// event loop (see request.ts), and a shared holder writes one because the engine keeps
// no record of shared holders. Each entry is written once (create + write, or a
// temp-file rename when a waiter becomes a shared holder) and unlinked when its request
// ends. An entry of a process that died is never reported: entries of this host carry
// the pid and its start time and are checked with isProcessAlive (and removed); entries
// of other hosts cannot be checked and are reported as they are.
//
// Readers skip what does not parse: a file caught between create and write is a wait
// that began a moment ago, and a snapshot may miss it. Write errors (a full disk, a
// read-only directory) are swallowed: the registry is what query() shows, and never
// what decides who holds a lock, which is the kernel's business alone.
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { isProcessAlive, processStartTime } from "../process/index.js";
import type { LockInfo, LockMode } from "./types.js";

/** Not a lock file name (those end in `.lock`), so never a lock name's file. */
export const REGISTRY_DIR = ".registry";

export interface RegistryEntry {
  /** `<clientId>.<seq>`: unique across processes; names the file too. */
  id: string;
  seq: number;
  state: "pending" | "held";
  name: string;
  mode: LockMode;
  clientId: string;
  pid: number;
  hostname: string;
  processStartTime?: number;
  since: number;
  holder?: Record<string, unknown>;
}

let host: string | undefined;
export function hostname(): string {
  host ??= osHostname();
  return host;
}

let ownStart: number | undefined | null = null;
export function ownStartTime(): number | undefined {
  if (ownStart === null) ownStart = processStartTime(process.pid);
  return ownStart;
}

/** A request's id, unique across processes: names its entry, and matches it to its record. */
export function requestId(clientId: string, seq: number): string {
  return `${clientId}.${seq}`;
}

function entryPath(dir: string, id: string): string {
  return join(dir, REGISTRY_DIR, `${id}.json`);
}

function createFile(path: string, text: string, flags: string): void {
  const fd = openSync(path, flags, 0o666);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

function ensureDir(dir: string): void {
  try {
    mkdirSync(join(dir, REGISTRY_DIR), 0o777);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}

/** Writes a new entry; returns its path, or `undefined` if it could not be written. */
export function writeEntry(dir: string, entry: RegistryEntry): string | undefined {
  const path = entryPath(dir, entry.id);
  const text = JSON.stringify(entry);
  try {
    try {
      createFile(path, text, "wx");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      ensureDir(dir);
      createFile(path, text, "wx");
    }
    return path;
  } catch {
    return undefined;
  }
}

/** Replaces an entry in one step (a waiter that became a shared holder). */
export function replaceEntry(path: string, entry: RegistryEntry): string | undefined {
  const temp = `${path}.tmp`;
  try {
    createFile(temp, JSON.stringify(entry), "w");
    renameSync(temp, path);
    return path;
  } catch {
    removeEntry(temp);
    removeEntry(path);
    return undefined;
  }
}

export function removeEntry(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already (a querier removed it as dead? never for a live one) or unwritable.
  }
}

function parseEntry(text: string): RegistryEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const e = v as Record<string, unknown>;
  if (
    typeof e.id !== "string" ||
    typeof e.seq !== "number" ||
    (e.state !== "pending" && e.state !== "held") ||
    typeof e.name !== "string" ||
    (e.mode !== "exclusive" && e.mode !== "shared") ||
    typeof e.clientId !== "string" ||
    typeof e.pid !== "number" ||
    !Number.isSafeInteger(e.pid) ||
    e.pid < 1 ||
    typeof e.hostname !== "string" ||
    typeof e.since !== "number" ||
    (e.processStartTime !== undefined && typeof e.processStartTime !== "number")
  ) {
    return undefined;
  }
  return e as unknown as RegistryEntry;
}

/** Liveness answers of one read, so N entries of one process cost one check. */
export type AliveCache = Map<string, boolean>;

/** Whether the owner (pid, start time, host) may still be alive; other hosts: yes. */
export function ownerAlive(
  owner: { pid: number; hostname: string; processStartTime?: number | undefined },
  cache: AliveCache,
): boolean {
  if (owner.hostname !== hostname()) return true;
  const key = `${owner.pid}:${owner.processStartTime}`;
  let alive = cache.get(key);
  if (alive === undefined) {
    alive = isProcessAlive(owner.pid, owner.processStartTime);
    cache.set(key, alive);
  }
  return alive;
}

/**
 * The entries in `dir` of live owners, except those of `skipClient` (the caller's own,
 * which it knows better from memory). Entries and leftover temp files of dead owners on
 * this host are removed on the way.
 */
export function readEntries(dir: string, skipClient: string, cache: AliveCache): RegistryEntry[] {
  const regDir = join(dir, REGISTRY_DIR);
  let files: string[];
  try {
    files = readdirSync(regDir);
  } catch {
    return [];
  }
  const out: RegistryEntry[] = [];
  for (const file of files) {
    const temp = file.endsWith(".json.tmp");
    if (!temp && !file.endsWith(".json")) continue;
    if (file.startsWith(`${skipClient}.`)) continue;
    const path = join(regDir, file);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      continue; // removed meanwhile: that request ended
    }
    const entry = parseEntry(text);
    if (entry === undefined) continue;
    if (!ownerAlive(entry, cache)) {
      removeEntry(path);
      continue;
    }
    if (!temp) out.push(entry);
  }
  return out;
}

export function infoOf(e: {
  name: string;
  mode: LockMode;
  clientId: string;
  pid: number;
  hostname: string;
  since: number;
  holder?: Record<string, unknown> | undefined;
}): LockInfo {
  const info: LockInfo = {
    name: e.name,
    mode: e.mode,
    clientId: e.clientId,
    pid: e.pid,
    hostname: e.hostname,
    since: e.since,
  };
  if (e.holder !== undefined) info.holder = e.holder;
  return info;
}
