// This thread's side of the lock managers: its client id and every request it has
// in flight, shared by all LockManager instances of the thread (and by both builds of
// interlock, see process-state.ts), so two managers on one directory see each other's
// requests in query() and steal from each other as the Web Locks API says one client does.
import { randomBytes } from "node:crypto";
import { processWide } from "../internal/process-state.js";
import type { LockRequest } from "./request.js";

/** The requests of one name in this thread, in arrival order. */
export interface NameQueue {
  readonly dir: string;
  readonly name: string;
  /** Absolute path of the lock file. */
  readonly path: string;
  /** Whether the file name is a hash (a long name): then records must carry the name. */
  readonly hashed: boolean;
  readonly requests: Set<LockRequest>;
}

export interface Client {
  /** One per thread (JavaScript realm), as `clientId` in the Web Locks API. */
  readonly clientId: string;
  /** Numbers this thread's requests; with the client id, names registry entries. */
  seq: number;
  /** Directory → lock name → its queue (see dropIfIdle for idle ones). */
  readonly dirs: Map<string, Map<string, NameQueue>>;
}

export function client(): Client {
  return processWide(
    "lockManagerClient.v1",
    // 48 random bits in 8 characters: unique enough among the clients that ever share a
    // directory, and short, since it is written into every exclusive holder's record.
    (): Client => ({ clientId: randomBytes(6).toString("base64url"), seq: 0, dirs: new Map() }),
  );
}

/** This thread's queues of `dir`, by lock name; the map lives as long as the thread. */
export function queuesOf(c: Client, dir: string): Map<string, NameQueue> {
  let byName = c.dirs.get(dir);
  if (byName === undefined) c.dirs.set(dir, (byName = new Map()));
  return byName;
}

/** Idle queues kept per directory for reuse; beyond this, idle ones are forgotten. */
const KEEP_IDLE = 64;

/**
 * Forgets `q` once nothing of this thread waits for or holds its name, unless the
 * directory has few queues: a name used again and again (the common case) then reuses
 * its queue instead of allocating one per request.
 */
export function dropIfIdle(c: Client, q: NameQueue): void {
  if (q.requests.size > 0) return;
  const byName = c.dirs.get(q.dir);
  if (byName === undefined || byName.size <= KEEP_IDLE || byName.get(q.name) !== q) return;
  byName.delete(q.name);
}
