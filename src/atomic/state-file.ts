import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { AbortError, hasCode } from "../errors.js";
import { acquireFileLock, type FileLockHandle } from "../file-lock/index.js";
import { abortable } from "../internal/abortable.js";
import { type AcquireOptions, validateOptions } from "../internal/options.js";
import type { Releaser } from "../internal/permit.js";
import { AtomicWriteError, StateFileCorruptError, StateFileInvalidError } from "./errors.js";
import { readRegular } from "./io.js";
import { jsonErrorPosition, stableStringify } from "./json-text.js";
import { whyNotJson } from "./json-value.js";
import { beginWrite, endWrite } from "./temp-files.js";
import { firstInvalidUtf8 } from "./utf8.js";
import { toPath, validateWriteOptions, type WriteOptions } from "./write-args.js";
import { pathLocks, writeLocked } from "./write-file-atomic.js";

/**
 * Options of {@link StateFile}.
 *
 * - `defaults` (required): the state when the file does not exist yet. Deep-copied
 *   (`structuredClone`) every time it is used, so `fn` may mutate what it gets.
 * - `validate`: called (and awaited) with every new state before it is written. Return `false` to
 *   reject it with {@link StateFileInvalidError}, or throw your own error; either way
 *   nothing is written. Not called on what is read from disk, so a schema change never
 *   locks you out of your own file: migrate it in `fn`.
 * - `backup` (default `false`): before each update, keep the version it replaces at
 *   `<path>.bak`.
 * - `serialize` / `parse`: another format than JSON (YAML, TOML, ...). The defaults
 *   write pretty JSON with sorted keys and a trailing newline, and read JSON.
 * - `mode`: permission bits of the file, as {@link writeFileAtomic}'s `mode`; omitted,
 *   an existing file keeps its mode and a new one gets `0o666 & ~umask`.
 * - `fsync` (default `true`): as {@link writeFileAtomic}.
 */
export interface StateFileOptions<T> {
  defaults: T;
  validate?: ((state: T) => unknown) | undefined;
  backup?: boolean | undefined;
  serialize?: ((state: T) => string | Uint8Array) | undefined;
  parse?: ((text: string) => T) | undefined;
  mode?: number | undefined;
  fsync?: boolean | undefined;
}

/**
 * Options of {@link StateFile.update}: `timeoutMs` bounds the wait for both locks (this
 * process's queue and the cross-process file lock); `signal` cancels the wait, and an
 * abort at any point before the new version is renamed into place writes nothing.
 */
export type UpdateOptions = AcquireOptions;

/**
 * A JSON state file that several processes read and update without losing updates.
 *
 * **Guarantee:** every `update` reads the latest committed state *inside* an exclusive
 * lock shared by all processes on this host (and in-process callers queue FIFO before
 * it), applies `fn`, and commits the result atomically with {@link writeFileAtomic}; so
 * N concurrent updates always produce N applied changes, and a reader or a crash only
 * ever sees a complete committed version.
 *
 * How an update runs: (1) this process's FIFO queue for the absolute path, (2) an
 * exclusive `flock` on the sibling `<path>.lock` (created, with missing parent
 * directories, on first use and never deleted: deleting a lock file under its holders
 * breaks the lock), (3) read and parse, (4) `fn`, (5) `validate`, (6) atomic write
 * (temp file, fsync, rename, directory fsync), (7) release both locks however it ended.
 *
 * **Failure modes** (nothing is written in any of them):
 * - the file does not parse: {@link StateFileCorruptError} (`ESTATECORRUPT`) with the
 *   path and position; the file is left byte-for-byte as found, never reset;
 * - `fn` or `validate` throws: that error; `validate` returns `false`:
 *   {@link StateFileInvalidError} (`ESTATEINVALID`);
 * - the path is a directory, its directory is unwritable: {@link AtomicWriteError}
 *   (`EPATHISDIR`, `EDIRNOTWRITABLE`, ...);
 * - the wait outlives `timeoutMs`: `LockTimeoutError` (`ELOCKTIMEOUT`), naming the
 *   holder; the signal aborts before the rename: `AbortError`.
 *
 * **Fairness:** FIFO among the updates of one process; across processes, whoever the
 * kernel grants the `flock` to (no cross-process ordering).
 *
 * **Cancellation:** as above; once the rename happened the update has committed and
 * resolves, whatever the signal does.
 *
 * Keep `fn` short: it runs while every other writer waits. For slow work, reserve under
 * the lock, work without it, commit under it again (docs/state-file.md has the recipe).
 * Use one spelling of the path for one file: the lock file is `<path>.lock`, so a
 * symlink and its target would lock separately.
 *
 * @example
 * ```ts
 * const state = new StateFile("/var/lib/app/sessions.json", {
 *   defaults: { sessions: {} as Record<string, { pid: number }> },
 *   backup: true,
 * });
 * await state.update((s) => {
 *   s.sessions[id] = { pid: process.pid };
 *   return s;
 * }, { timeoutMs: 10_000 });
 * const { sessions } = await state.read();
 * ```
 */
export class StateFile<T> {
  /** Absolute path of the state file. */
  readonly path: string;
  /** Absolute path of the lock file every updater takes: `<path>.lock`. */
  readonly lockPath: string;
  /** Where `backup: true` keeps the previous version: `<path>.bak`. */
  readonly backupPath: string;
  readonly #defaults: T;
  readonly #validate: StateFileOptions<T>["validate"];
  readonly #backup: boolean;
  readonly #serialize: (state: T) => string | Uint8Array;
  readonly #parse: ((text: string) => T) | undefined;
  readonly #write: WriteOptions;
  /** With the built-in JSON serializer, values that would not round-trip are refused. */
  readonly #checkJson: boolean;

  /**
   * @param path - The state file; resolved to an absolute path now.
   * @throws {TypeError} synchronously, for a bad path, missing `defaults`, `defaults`
   *   that cannot be deep-copied, or hooks that are not functions.
   * @throws {RangeError} synchronously, for a bad `mode`.
   */
  constructor(path: string | URL, options: StateFileOptions<T>) {
    this.path = resolve(toPath(path));
    this.lockPath = `${this.path}.lock`;
    this.backupPath = `${this.path}.bak`;
    if (typeof options !== "object" || options === null || !("defaults" in options)) {
      throw new TypeError(
        "Expected `options.defaults`: the state to use while the file does not exist",
      );
    }
    try {
      structuredClone(options.defaults);
    } catch (err) {
      throw new TypeError(
        "Expected `defaults` to be deep-copyable data (no functions or class instances with private state)",
        { cause: err },
      );
    }
    for (const hook of ["validate", "serialize", "parse"] as const) {
      if (options[hook] !== undefined && typeof options[hook] !== "function") {
        throw new TypeError(`Expected \`${hook}\` to be a function, got ${typeof options[hook]}`);
      }
    }
    if (options.backup !== undefined && typeof options.backup !== "boolean") {
      throw new TypeError(`Expected \`backup\` to be a boolean, got ${typeof options.backup}`);
    }
    this.#defaults = options.defaults;
    this.#validate = options.validate;
    this.#backup = options.backup ?? false;
    this.#serialize = options.serialize ?? stableStringify;
    this.#checkJson = options.serialize === undefined;
    this.#parse = options.parse;
    this.#write = validateWriteOptions({ mode: options.mode, fsync: options.fsync });
  }

  /**
   * The last committed state: the file parsed, or a deep copy of `defaults` when it
   * does not exist. Takes no lock (every commit is an atomic rename, so a read never
   * sees half of one), and a later `read` never returns an older state than an earlier one.
   *
   * @throws {StateFileCorruptError} the file does not parse; it is left untouched.
   * @throws {AtomicWriteError} `EPATHISDIR` when the path is a directory.
   *
   * @example
   * ```ts
   * const { sessions } = await state.read();
   * ```
   */
  async read(): Promise<T> {
    return (await this.#load()).state;
  }

  /**
   * Applies `fn` to the latest state under the cross-process lock and commits what it
   * returns. `fn` may change `current` in place and return it, or return a new value;
   * it may be async. Resolves with the committed state.
   *
   * @throws {TypeError} synchronously when `fn` is not a function; as a rejection when
   *   `fn` returns `undefined` (forgot to `return current`?).
   * @throws {RangeError} synchronously, for a bad `timeoutMs`.
   * @throws {StateFileCorruptError} / {@link StateFileInvalidError} /
   *   {@link AtomicWriteError} / `LockTimeoutError` / `AbortError` / whatever `fn` or
   *   `validate` throws: nothing was written.
   *
   * @example
   * ```ts
   * const next = await state.update(async (s) => ({ ...s, runs: s.runs + 1 }), {
   *   timeoutMs: 5_000,
   *   signal: AbortSignal.timeout(30_000),
   * });
   * ```
   */
  update(fn: (current: T) => T | Promise<T>, options?: UpdateOptions): Promise<T> {
    if (typeof fn !== "function") {
      throw new TypeError("Expected `fn` to be a function `(current) => next`");
    }
    if (options !== undefined) validateOptions(options);
    return this.#update(fn, options?.signal, options?.timeoutMs);
  }

  async #update(
    fn: (current: T) => T | Promise<T>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ): Promise<T> {
    if (signal?.aborted) throw abortedUpdate(signal);
    const started = performance.now();
    let local: Releaser | undefined;
    let lock: FileLockHandle | undefined;
    beginWrite();
    try {
      local = await pathLocks.acquire(this.path, { signal, timeoutMs });
      const left =
        timeoutMs === undefined
          ? undefined
          : Math.max(0, timeoutMs - (performance.now() - started));
      try {
        lock = await acquireFileLock(this.lockPath, {
          mode: "exclusive",
          signal,
          timeoutMs: left,
          holder: { purpose: `StateFile.update of ${this.path}` },
        });
      } catch (err) {
        throw lockError(err, this.path);
      }
      // The read belongs inside the lock: a state read before it may already be stale.
      // Everything done under the lock answers the signal at once (abortable), so a slow
      // read or a slow `fn` never holds every other writer hostage to a caller that gave up.
      const { state: current, raw } = await abortable(this.#load(), signal);
      const next = await abortable(
        Promise.resolve().then(() => fn(current)),
        signal,
      );
      if (next === undefined) {
        throw new TypeError(
          "`fn` returned undefined; return the new state (or `current` after changing it). Nothing was written",
        );
      }
      if (
        this.#validate !== undefined &&
        (await abortable(
          Promise.resolve().then(() => this.#validate!(next)),
          signal,
        )) === false
      ) {
        throw new StateFileInvalidError(this.path);
      }
      if (this.#checkJson) {
        const problem = whyNotJson(next);
        if (problem !== undefined) {
          throw new TypeError(
            `Cannot store the new state of ${this.path}: ${problem}. Nothing was written`,
          );
        }
      }
      const out = this.#serialize(next);
      const bytes = typeof out === "string" ? Buffer.from(out, "utf8") : out;
      if (!(bytes instanceof Uint8Array)) {
        throw new TypeError("Expected `serialize` to return a string or a Uint8Array");
      }
      const write = { ...this.#write, signal };
      // Deleting or replacing the lock file while we held it let another writer in on a
      // new file: committing now could overwrite its update.
      lock.assertHeld();
      if (this.#backup && raw !== undefined) await writeLocked(this.backupPath, raw, write);
      await writeLocked(this.path, bytes, write);
      return next;
    } catch (err) {
      // The lock waits say "nothing was acquired"; say what matters to the caller.
      if (hasCode(err, "ABORT_ERR") && signal?.aborted) throw abortedUpdate(signal);
      throw err;
    } finally {
      try {
        await lock?.release();
      } finally {
        local?.release();
        endWrite();
      }
    }
  }

  async #load(): Promise<{ state: T; raw: Buffer | undefined }> {
    const read = await readRegular(this.path);
    if (read === undefined) return { state: structuredClone(this.#defaults), raw: undefined };
    if (!("bytes" in read)) {
      throw read.kind === "a directory"
        ? new AtomicWriteError(
            "EPATHISDIR",
            this.path,
            `State file ${this.path} is a directory; pass the path of a file inside it`,
            { cause: read.cause },
          )
        : new AtomicWriteError(
            "ENOTREGULAR",
            this.path,
            `State file ${this.path} is ${read.kind}, not a regular file; nothing was read or written. Remove it or pick another path`,
            { cause: read.cause },
          );
    }
    const raw = read.bytes;
    const bad = firstInvalidUtf8(raw);
    if (bad !== -1) {
      throw new StateFileCorruptError(this.path, raw.toString("latin1"), undefined, {
        detail: `is not valid UTF-8 (byte ${bad}, 0x${raw[bad]!.toString(16).padStart(2, "0")})`,
        byte: bad,
      });
    }
    // A byte-order mark from a Windows editor is not part of the JSON.
    const bom = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 1 : 0;
    const text = raw.toString("utf8");
    const body = bom ? text.slice(1) : text;
    try {
      return { state: this.#parse === undefined ? JSON.parse(body) : this.#parse(body), raw };
    } catch (err) {
      let position: number | undefined;
      if (this.#parse === undefined) position = jsonErrorPosition(body);
      else {
        const p = (err as { position?: unknown } | null)?.position;
        if (typeof p === "number") position = p;
      }
      throw new StateFileCorruptError(
        this.path,
        text,
        position === undefined ? undefined : position + bom,
        { cause: err },
      );
    }
  }
}

function abortedUpdate(signal: AbortSignal): AbortError {
  return new AbortError(signal.reason, "The update was aborted by its signal; nothing was written");
}

/**
 * An unwritable directory is reported the same way whether the lock or the write finds
 * it. A lock file that exists but is not ours to open (left by a run under sudo) keeps
 * the lock's own error, which names its owner.
 */
function lockError(err: unknown, path: string): unknown {
  if (hasCode(err, "EFLOCKACCES") && !existsSync(`${path}.lock`)) {
    return new AtomicWriteError(
      "EDIRNOTWRITABLE",
      path,
      `Cannot update ${path}: its lock file cannot be created in that directory; check its permissions and mount`,
      { cause: err },
    );
  }
  return err;
}
