// The mapping of PostgreSQL registry rows to public entries. (A pending entry is the
// same handle as a FileRegistry's, src/ids/pending-entry.ts: commit and abort are
// compare-and-set statements on the entry's claim token, so a handle whose entry was
// reclaimed, released or re-reserved since can never touch what is there now.)
import type { RegistryEntry, RegistryOwner } from "./registry-types.js";

/** A registry row as `pg` returns it. @internal */
export interface RegistryRow {
  id: string;
  slot: number | null;
  status: "pending" | "active";
  claim: string;
  owner: RegistryOwner;
  data: unknown;
  created_at: string;
}

/** @internal */
export function toEntry<D>(row: RegistryRow): RegistryEntry<D> {
  const entry: RegistryEntry<D> = {
    id: row.id,
    status: row.status,
    owner: { ...row.owner },
    data: (row.data ?? null) as D | null,
    createdAt: Number(row.created_at),
  };
  if (row.slot !== null) entry.slot = row.slot;
  return entry;
}
