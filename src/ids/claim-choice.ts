// Which id and slot a reservation gets: decided inside the registry's lock, from the
// state read inside it, and written in the same section. A choice made from an earlier
// read would be a check-then-claim across an await: two processes would pick the same.
import { randomUUID } from "node:crypto";
import { IdsExhaustedError, IdTakenError } from "./errors.js";
import { firstFreeId, type IdFormat } from "./naming.js";
import { describeHolder } from "./reclaim.js";
import { type RegistryState, type StoredEntry, thisOwner } from "./registry-file.js";

/** A validated `reserve` call. @internal */
export interface Request<D> {
  id: string | undefined;
  base: string;
  slot: { min: number; max: number } | undefined;
  data: D | null;
  signal: AbortSignal | undefined;
  timeoutMs: number | undefined;
}

/** The claim a reservation makes, chosen inside the lock. @internal */
export interface Choice {
  id: string;
  slot: number | undefined;
}

/** The id and slot a reservation gets in `state`, or why it gets none. @internal */
export function choose<D>(
  state: RegistryState,
  request: Request<D>,
  format: IdFormat,
  path: string,
): Choice {
  const byId = new Map(state.entries.map((e) => [e.id, e]));
  let id: string;
  if (request.id !== undefined) {
    const holder = byId.get(request.id);
    if (holder !== undefined) {
      throw new IdTakenError(
        request.id,
        holder.status,
        describeHolder(holder),
        { ...holder.owner },
        path,
      );
    }
    id = request.id;
  } else {
    id = firstFreeId(request.base, format, (c) => byId.has(c), byId.size);
  }
  if (request.slot === undefined) return { id, slot: undefined };
  const { min, max } = request.slot;
  const taken = new Set<number>();
  for (const e of state.entries) if (e.slot !== undefined) taken.add(e.slot);
  let slot = min;
  while (slot <= max && taken.has(slot)) slot++;
  if (slot > max) throw new IdsExhaustedError(min, max, path);
  return { id, slot };
}

/** Appends the pending entry for `choice`, owned by this process. @internal */
export function place<D>(state: RegistryState, choice: Choice, request: Request<D>): StoredEntry {
  const entry: StoredEntry = {
    id: choice.id,
    status: "pending",
    owner: thisOwner(),
    data: request.data,
    createdAt: Date.now(),
    token: randomUUID(),
  };
  if (choice.slot !== undefined) entry.slot = choice.slot;
  state.entries.push(entry);
  return entry;
}
