import { createRequire } from "node:module";
import { FileLockUnavailableError } from "./errors.js";

/** The part of fs-ext that file locks use. */
export interface FsExt {
  flockSync(fd: number, flags: "sh" | "ex" | "shnb" | "exnb" | "un"): void;
}

let loaded: FsExt | undefined;
let failure: unknown;

/**
 * Loads fs-ext on first use. A failure is remembered and turned into a fresh
 * {@link FileLockUnavailableError} on every call, so a broken native build fails every
 * acquire loudly instead of once.
 */
export function loadFsExt(): FsExt {
  if (loaded !== undefined) return loaded;
  if (failure !== undefined) throw new FileLockUnavailableError(failure);
  try {
    // In the CommonJS build `require` is the module's own; in ESM we make one. Either
    // way the load goes through Node's loader, so a missing or ABI-mismatched binary
    // surfaces here as an exception we can name.
    const req = typeof require === "function" ? require : createRequire(import.meta.url);
    const mod = req("fs-ext") as Partial<FsExt>;
    if (typeof mod.flockSync !== "function") {
      throw new Error("fs-ext loaded but has no flockSync export");
    }
    loaded = mod as FsExt;
    return loaded;
  } catch (err) {
    failure = err;
    throw new FileLockUnavailableError(err);
  }
}
