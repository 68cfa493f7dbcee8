// Who may take an entry away from its owner. The rule is narrow on purpose: only a
// pending entry whose owner is provably dead on this host is dropped without being
// asked; anything that cannot be proven dead is kept, because dropping a live owner's
// reservation hands its id and slot to a second owner.
import { hostname } from "node:os";
import { isProcessAlive } from "../process/index.js";
import type { RegistryState, StoredEntry } from "./registry-file.js";
import type { RegistryOwner } from "./types.js";

let host: string | undefined;

/**
 * `"dead"`: same host, and the PID is gone or now belongs to a process with another
 * start time. `"alive"`: same host, and nothing contradicts it. `"elsewhere"`:
 * another host; nothing can be checked from here.
 * @internal
 */
export function liveness(owner: RegistryOwner): "alive" | "dead" | "elsewhere" {
  host ??= hostname();
  if (owner.hostname !== host) return "elsewhere";
  return isProcessAlive(owner.pid, owner.processStartTime) ? "alive" : "dead";
}

/**
 * Whether `reclaim` drops `e`: a pending entry of a dead owner, and with `force` also a
 * pending entry of another host. Never an active entry.
 * @internal
 */
export function isAbandoned(e: StoredEntry, force: boolean): boolean {
  if (e.status !== "pending") return false;
  const state = liveness(e.owner);
  return state === "dead" || (force && state === "elsewhere");
}

/** Removes the abandoned entries from `state` and returns them. @internal */
export function dropAbandoned(state: RegistryState, force: boolean): StoredEntry[] {
  const dropped: StoredEntry[] = [];
  state.entries = state.entries.filter((e) => {
    if (!isAbandoned(e, force)) return true;
    dropped.push(e);
    return false;
  });
  return dropped;
}

/**
 * Who holds an entry, for an IdTakenError: "pending: another operation is in progress,
 * pid 123 alive since 2025-01-31T10:00:00.000Z".
 * @internal
 */
export function describeHolder(e: StoredEntry): string {
  const since = new Date(e.createdAt).toISOString();
  const state = liveness(e.owner);
  const who =
    state === "elsewhere"
      ? `pid ${e.owner.pid} on host ${JSON.stringify(e.owner.hostname)} (not checkable from here)`
      : `pid ${e.owner.pid}${state === "alive" ? " alive" : " (exited)"}`;
  if (e.status === "pending") {
    return `pending: another operation is in progress, ${who} since ${since}`;
  }
  return `active: committed by ${who}, reserved at ${since}; release(${JSON.stringify(e.id)}) removes it`;
}
