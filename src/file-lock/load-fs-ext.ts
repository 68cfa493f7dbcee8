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
    // Always a real `require` made by Node: a bare `require` in this file would become
    // the bundler's `__require` shim in the ESM build, which throws "Dynamic require of
    // fs-ext is not supported". The CommonJS build gets `import.meta.url` from tsup's
    // shim (`shims: true`), i.e. this file's own URL, so both builds resolve fs-ext from
    // the installed package, as a plain `require` there would.
    const req = createRequire(import.meta.url);
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
