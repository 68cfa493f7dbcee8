// query(): who holds and who waits, in every process that uses the directory.
//
// Three sources, each authoritative for its part:
// - this thread's requests, from memory (exact, and the same moment's view);
// - exclusive holders elsewhere: the holder records in the lock files, read with
//   readLockHolder, which probes the lock first, so a record is reported only while its
//   writer holds the lock and its process is alive;
// - waiters and shared holders elsewhere: the registry (registry.ts), whose entries of
//   dead processes are dropped.
// A waiter that was granted an exclusive lock a moment ago may have its registry entry
// and its lock file record at once: the record wins (same request id).

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { type LockHolder, readLockHolder } from "../file-lock/index.js";
import { byAge } from "./by-age.js";
import type { Client } from "./client.js";
import { isLockFileName, lockFileName, lockNameOf } from "./lock-name.js";
import {
  type AliveCache,
  hostname as hostnameOf,
  infoOf,
  readEntries,
  requestId,
} from "./registry.js";
import type { LockInfo, LockManagerSnapshot } from "./types.js";

interface Found extends LockInfo {
  /** Request id, to merge the same request seen through two sources; "" if unknown. */
  id: string;
  seq: number;
}

/** The lock manager's fields in a holder record (see recordOf), when one wrote it. */
function managerFields(
  record: LockHolder,
  file: string,
): { seq: number; name: string; clientId: string; holder?: Record<string, unknown> } | undefined {
  const { lockRequest, lockName, holder } = record;
  if (typeof lockRequest !== "string") return undefined;
  const dot = lockRequest.lastIndexOf(".");
  const seq = Number(lockRequest.slice(dot + 1));
  const name = typeof lockName === "string" ? lockName : lockNameOf(file);
  if (dot < 1 || !Number.isSafeInteger(seq) || name === undefined) return undefined;
  return {
    seq,
    name,
    clientId: lockRequest.slice(0, dot),
    ...(typeof holder === "object" && holder !== null && !Array.isArray(holder)
      ? { holder: holder as Record<string, unknown> }
      : {}),
  };
}

/** Exclusive holders outside this thread, from the lock files (all, or `only`'s). */
async function exclusiveHolders(dir: string, client: Client, only?: string): Promise<Found[]> {
  let files: string[];
  if (only !== undefined) {
    files = [lockFileName(only)];
  } else {
    try {
      files = readdirSync(dir).filter(isLockFileName);
    } catch {
      return [];
    }
  }
  // Files this thread holds exclusively: memory says so already, skip their probes.
  const mine = new Set<string>();
  for (const q of client.dirs.get(dir)?.values() ?? []) {
    for (const r of q.requests) if (r.state === "held" && r.mode === "exclusive") mine.add(q.path);
  }
  const found: Found[] = [];
  for (const file of files) {
    const path = join(dir, file);
    if (mine.has(path)) continue;
    let record: LockHolder | undefined;
    try {
      record = await readLockHolder(path);
    } catch {
      continue; // removed, or not a lock file after all
    }
    if (record === undefined) continue;
    const f = managerFields(record, file);
    if (f?.clientId === client.clientId) continue;
    // A record some other acquireFileLock user wrote into a file of ours: report it
    // under the name the file stands for, if it has one.
    const name = f?.name ?? lockNameOf(file);
    if (name === undefined || (only !== undefined && name !== only)) continue;
    found.push({
      ...infoOf({
        name,
        mode: "exclusive",
        clientId: f?.clientId ?? `pid ${record.pid}@${record.hostname}`,
        pid: record.pid,
        hostname: record.hostname,
        since: record.acquiredAt,
        holder: f?.holder,
      }),
      id: f === undefined ? "" : requestId(f.clientId, f.seq),
      seq: f?.seq ?? 0,
    });
  }
  return found;
}

function strip(found: Found[]): LockInfo[] {
  return found.sort(byAge).map(({ id: _id, seq: _seq, ...info }) => info);
}

/** Everything held and pending in `dir`, or only for the name `only`. */
export async function snapshot(
  dir: string,
  client: Client,
  only?: string,
): Promise<LockManagerSnapshot> {
  const held: Found[] = [];
  const pending: Found[] = [];
  for (const q of client.dirs.get(dir)?.values() ?? []) {
    if (only !== undefined && q.name !== only) continue;
    for (const r of q.requests) {
      if (r.state === "done") continue;
      const info = infoOf({
        name: q.name,
        mode: r.mode,
        clientId: client.clientId,
        pid: process.pid,
        hostname: hostnameOf(),
        since: r.since,
        holder: r.holder,
      });
      (r.state === "held" ? held : pending).push({ ...info, id: r.id, seq: r.seq });
    }
  }
  const cache: AliveCache = new Map();
  const exclusive = await exclusiveHolders(dir, client, only);
  held.push(...exclusive);
  const heldIds = new Set(exclusive.map((f) => f.id));
  for (const e of readEntries(dir, client.clientId, cache)) {
    if (only !== undefined && e.name !== only) continue;
    if (heldIds.has(e.id)) continue;
    (e.state === "held" ? held : pending).push({ ...infoOf(e), id: e.id, seq: e.seq });
  }
  return { held: strip(held), pending: strip(pending) };
}

/** Who holds `name` (outside this thread only, unless `ours`): for errors' messages. */
export async function holdersOf(
  dir: string,
  name: string,
  client: Client,
  ours = false,
): Promise<LockInfo[]> {
  const { held } = await snapshot(dir, client, name);
  return ours ? held : held.filter((h) => h.clientId !== client.clientId);
}
