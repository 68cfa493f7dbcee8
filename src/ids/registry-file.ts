// The registry's file: its versioned JSON shape, checked on every read, and the owner
// record of this process.
import { hostname } from "node:os";
import { processStartTime } from "../process/index.js";
import { RegistryFormatError } from "./errors.js";
import type { RegistryEntry, RegistryOwner } from "./types.js";

/**
 * An entry as stored: the public fields plus `token`, which identifies the claim. A
 * handle commits or aborts only the entry with its own token, so an id that was
 * released and reserved again by someone else is never touched by the old handle.
 * @internal
 */
export interface StoredEntry extends RegistryEntry<unknown> {
  token: string;
}

/**
 * The whole file. `format` names what it is, `version` the shape of `entries`; a newer
 * version is refused rather than misread.
 * @internal
 */
export interface RegistryState {
  format: "interlock.registry";
  version: 1;
  entries: StoredEntry[];
}

/** @internal */
export const FORMAT = "interlock.registry";

/** @internal */
export function emptyState(): RegistryState {
  return { format: FORMAT, version: 1, entries: [] };
}

/** The public view of a stored entry: everything but the claim token. @internal */
export function publicEntry<D>(e: StoredEntry): RegistryEntry<D> {
  const out: RegistryEntry<D> = {
    id: e.id,
    status: e.status,
    owner: { ...e.owner },
    data: e.data as D | null,
    createdAt: e.createdAt,
  };
  if (e.slot !== undefined) out.slot = e.slot;
  return out;
}

let me: RegistryOwner | undefined;

/** The owner record of this process, read once. @internal */
export function thisOwner(): RegistryOwner {
  if (me === undefined) {
    const start = processStartTime(process.pid);
    me = { pid: process.pid, hostname: hostname() };
    // Omitted rather than `undefined`: the file holds only what JSON keeps.
    if (start !== undefined) me.processStartTime = start;
  }
  return { ...me };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks what a read returned and gives it its type; a file that is not a registry of
 * this version is reported, never rewritten.
 * @internal
 */
export function checkState(value: unknown, path: string): RegistryState {
  if (!isObject(value) || value.format !== FORMAT) {
    throw new RegistryFormatError(path, `it has no "format": "${FORMAT}" field`);
  }
  if (value.version !== 1) {
    throw new RegistryFormatError(
      path,
      `it has format version ${JSON.stringify(value.version)}; this version reads version 1 (a newer interlock wrote it?)`,
    );
  }
  if (!Array.isArray(value.entries)) {
    throw new RegistryFormatError(path, `"entries" is not an array`);
  }
  const ids = new Set<string>();
  value.entries.forEach((e: unknown, i: number) => {
    const problem = entryProblem(e);
    if (problem !== undefined) throw new RegistryFormatError(path, `entries[${i}] ${problem}`);
    const id = (e as StoredEntry).id;
    if (ids.has(id)) {
      throw new RegistryFormatError(path, `entries[${i}] repeats the id ${JSON.stringify(id)}`);
    }
    ids.add(id);
  });
  return value as unknown as RegistryState;
}

function entryProblem(e: unknown): string | undefined {
  if (!isObject(e)) return "is not an object";
  if (typeof e.id !== "string" || e.id === "") return `has no "id" string`;
  if (e.slot !== undefined && !Number.isSafeInteger(e.slot)) return `has a non-integer "slot"`;
  if (e.status !== "pending" && e.status !== "active") {
    return `has "status" ${JSON.stringify(e.status)}, not "pending" or "active"`;
  }
  if (typeof e.token !== "string") return `has no "token" string`;
  if (typeof e.createdAt !== "number") return `has no "createdAt" number`;
  if (!("data" in e)) return `has no "data"`;
  const o = e.owner;
  if (!isObject(o)) return `has no "owner" object`;
  if (typeof o.pid !== "number" || !Number.isSafeInteger(o.pid) || o.pid < 1) {
    return `has an "owner.pid" that is not a positive integer`;
  }
  if (typeof o.hostname !== "string") return `has no "owner.hostname" string`;
  if (o.processStartTime !== undefined && typeof o.processStartTime !== "number") {
    return `has a non-number "owner.processStartTime"`;
  }
  return undefined;
}
