import { InterlockError } from "../errors.js";

/**
 * Why an atomic write (or a state-file read) refused a path. Each is a stable `code`:
 *
 * - `"EPATHISDIR"`: the path names a directory.
 * - `"ENOTREGULAR"`: the path names a FIFO, socket or device; replacing it with a
 *   regular file would break whatever uses it (think `/dev/null` under root).
 * - `"EDIRMISSING"`: the directory that should hold the file does not exist, or a
 *   component of the path is not a directory.
 * - `"EDIRNOTWRITABLE"`: the directory exists but no file can be created in it
 *   (permissions, read-only filesystem, immutable attribute), or, in a sticky
 *   directory such as /tmp, the target belongs to another user.
 * - `"ETEMPVANISHED"`: the temp file was removed by someone else before the rename;
 *   the target is unchanged.
 */
export type AtomicWriteErrorCode =
  | "EPATHISDIR"
  | "ENOTREGULAR"
  | "EDIRMISSING"
  | "EDIRNOTWRITABLE"
  | "ETEMPVANISHED";

/**
 * The path cannot hold an atomically written file. Thrown before anything was created,
 * so the target and its directory are unchanged. `cause` is the system error, if any
 * (with its own `code`, e.g. `"EACCES"` or `"EROFS"`).
 *
 * Other I/O failures during the write (`ENOSPC`, `EFBIG`, `EIO`, ...) are rethrown as
 * the raw Node.js system error after the temp file is removed; the target is untouched
 * in every case.
 *
 * @example
 * ```ts
 * try {
 *   await writeFileAtomic("/etc/app/config.json", text);
 * } catch (err) {
 *   if (err instanceof AtomicWriteError && err.code === "EDIRNOTWRITABLE") {
 *     console.error(`cannot write ${err.path}: run with sudo or pick another path`);
 *   } else throw err;
 * }
 * ```
 */
export class AtomicWriteError extends InterlockError {
  declare readonly code: AtomicWriteErrorCode;
  /** The path the caller asked to write (or read). */
  readonly path: string;

  constructor(code: AtomicWriteErrorCode, path: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.path = path;
  }
}

/**
 * The state file exists but does not parse. The file is left byte-for-byte as found and
 * is never reset to the defaults: a person (or a migration) must look at it.
 *
 * `position` is the 0-based character offset of the first error (for JSON; a custom
 * `parse` hook may not report one), `line` and `column` are 1-based, and `cause` is the
 * parser's own error.
 *
 * @example
 * ```ts
 * try {
 *   await state.update((s) => ({ ...s, runs: s.runs + 1 }));
 * } catch (err) {
 *   if (err instanceof StateFileCorruptError) {
 *     console.error(`${err.path}:${err.line}:${err.column}: fix or delete this file`);
 *     process.exit(2);
 *   }
 *   throw err;
 * }
 * ```
 */
export class StateFileCorruptError extends InterlockError {
  declare readonly code: "ESTATECORRUPT";
  readonly path: string;
  /** 0-based character offset of the first syntax error, when the parser can tell. */
  readonly position: number | undefined;
  /** 1-based line of `position`. */
  readonly line: number | undefined;
  /** 1-based column of `position`. */
  readonly column: number | undefined;

  /** For a file that is not valid UTF-8: the offset of the first bad byte. */
  readonly byte: number | undefined;

  constructor(
    path: string,
    text: string,
    position: number | undefined,
    options?: ErrorOptions & { detail?: string; byte?: number },
  ) {
    let line: number | undefined;
    let column: number | undefined;
    const at = position ?? options?.byte;
    if (at !== undefined) {
      const before = text.slice(0, at);
      const lastNl = before.lastIndexOf("\n");
      line = before.split("\n").length;
      column = at - lastNl;
    }
    const where = line === undefined ? "" : ` at line ${line}, column ${column}`;
    super(
      "ESTATECORRUPT",
      `State file ${path} ${options?.detail ?? "does not parse"}${where}; it was left untouched, byte for byte. Fix it by hand, restore ${path}.bak if you keep backups, or delete it to start from the defaults`,
      options,
    );
    this.path = path;
    this.position = position;
    this.line = line;
    this.column = column;
    this.byte = options?.byte;
  }
}

/**
 * The state produced by an update was rejected by the file's `validate` hook (it
 * returned `false`). Nothing was written. A `validate` hook that throws propagates its
 * own error instead.
 *
 * @example
 * ```ts
 * const state = new StateFile("slots.json", {
 *   defaults: { used: 0 },
 *   validate: (s) => s.used <= 8,
 * });
 * await state.update((s) => ({ used: s.used + 1 })).catch((err) => {
 *   if (err instanceof StateFileInvalidError) console.error("no free slot");
 * });
 * ```
 */
export class StateFileInvalidError extends InterlockError {
  declare readonly code: "ESTATEINVALID";
  readonly path: string;

  constructor(path: string, options?: ErrorOptions) {
    super(
      "ESTATEINVALID",
      `The new state for ${path} failed its \`validate\` hook; nothing was written`,
      options,
    );
    this.path = path;
  }
}
