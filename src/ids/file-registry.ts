import { AtomicWriteError, StateFile } from "../atomic/index.js";
import { LockTimeoutError } from "../errors.js";
import { describe } from "../internal/describe.js";
import { validateOptions } from "../internal/options.js";
import { choose, place, type Request } from "./claim-choice.js";
import { ReservationLostError } from "./errors.js";
import { checkJsonData } from "./json-data.js";
import { type IdFormat, validateFormat, validateId, validateRange } from "./naming.js";
import { type EntryOps, RegistryPendingEntry } from "./pending-entry.js";
import { describeHolder, dropAbandoned, isAbandoned } from "./reclaim.js";
import {
  checkState,
  emptyState,
  publicEntry,
  type RegistryState,
  type StoredEntry,
} from "./registry-file.js";
import type {
  PendingEntry,
  ReclaimOptions,
  Registry,
  RegistryEntry,
  ReserveOptions,
} from "./types.js";

/**
 * Options of {@link FileRegistry}.
 *
 * - `format(base, n)`: the `n`-th candidate id of a base (`n` = 1, 2, …); default
 *   `base`, `base-2`, `base-3`, ….
 * - `timeoutMs`: how long `commit`, `abort`, `release` and `reclaim` (and `reserve`
 *   without its own `timeoutMs`) wait for the registry's lock; default: no limit. The
 *   lock is only ever held for a read, a small change and an atomic write, so a wait is
 *   short unless a holder is stopped.
 * - `mode`, `fsync`: of the file, as {@link StateFile}'s.
 *
 * @example
 * ```ts
 * const sessions = new FileRegistry<{ port: number }>("/run/app/sessions.json", {
 *   format: (base, n) => `${base}-${n}`,
 *   timeoutMs: 10_000,
 * });
 * ```
 */
export interface FileRegistryOptions {
  format?: IdFormat | undefined;
  timeoutMs?: number | undefined;
  mode?: number | undefined;
  fsync?: boolean | undefined;
}

/** Thrown inside an update that has nothing to change, so that nothing is written. */
class Unchanged {
  constructor(readonly state: RegistryState) {}
}

/**
 * A registry of ids and slots in one JSON file, shared by every process on the host:
 * reserve under a short lock, provision without it, commit or abort under a short lock
 * again.
 *
 * **Guarantee:** no two entries ever share an id or a slot, across processes and
 * crashes; the registry's lock is held only while a pending entry is written, committed
 * or dropped (never while the caller works), so `list()` answers at once while others
 * provision; and a pending entry is dropped without being asked only when its owner is
 * provably dead on this host (PID gone, or reused by a process with another start time).
 *
 * How it works: a {@link StateFile} (`<path>`, locked through `<path>.lock`) holds
 * `{format, version: 1, entries: [...]}`. `reserve` takes the lock, drops pending
 * entries of dead owners, picks the first free id and the lowest free slot, appends a
 * `"pending"` entry with a fresh claim token and this process as owner, writes, and
 * releases the lock before it resolves. `commit` and `abort` find the entry by id *and*
 * token under the lock; if it is gone (released, reclaimed) they reject with
 * {@link ReservationLostError} and change nothing.
 *
 * **Recovery:** a process that dies while provisioning leaves its pending entry; the
 * next `reserve`, `list` or `get` on the same host drops it, freeing its id and slot.
 * Active entries are never dropped automatically (the resource they name may outlive
 * the process that made it): `release(id)` removes one. Pending entries of other hosts
 * are kept until `reclaim({force: true})`.
 *
 * **Fairness:** lock sections queue FIFO within a process; across processes, whoever
 * the kernel grants the `flock` to. Ids are chosen lowest-`n` first and slots
 * lowest-first, so freed ones are reused.
 *
 * **Cancellation:** `signal` and `timeoutMs` of `reserve` bound its wait for the lock
 * (`AbortError`, `LockTimeoutError`); nothing is written then. Nothing else waits for
 * long.
 *
 * **Platform notes:** liveness comes from {@link isProcessAlive}: where process start
 * times are unavailable (Windows), a reused PID keeps a dead owner's entry until
 * `release`. Hosts are told apart by `os.hostname()`; two hosts (or containers sharing
 * the file) must not share a hostname.
 *
 * @example
 * ```ts
 * const sessions = new FileRegistry<{ port: number }>("/run/app/sessions.json");
 * await using entry = await sessions.reserve({ base: "session", slot: { min: 0, max: 7 } });
 * await provision(entry.id, entry.slot!); // slow; no lock held; `ls` sees it as pending
 * await entry.commit({ port: 7000 + entry.slot! });
 * ```
 */
export class FileRegistry<D = unknown> implements Registry<D> {
  /** Absolute path of the registry file. */
  readonly path: string;
  /** Absolute path of the lock file every writer takes: `<path>.lock`. */
  readonly lockPath: string;
  readonly #state: StateFile<RegistryState>;
  readonly #format: IdFormat;
  readonly #timeoutMs: number | undefined;
  readonly #ops: EntryOps<D>;

  /**
   * @param path - The registry file (created on the first reserve); resolved now.
   * @throws {TypeError} / {RangeError} synchronously for a bad path or option.
   */
  constructor(path: string | URL, options: FileRegistryOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    this.#format = validateFormat(options.format);
    validateOptions({ timeoutMs: options.timeoutMs });
    this.#timeoutMs = options.timeoutMs;
    this.#state = new StateFile<RegistryState>(path, {
      defaults: emptyState(),
      mode: options.mode,
      fsync: options.fsync,
    });
    this.path = this.#state.path;
    this.lockPath = this.#state.lockPath;
    this.#ops = {
      commit: (id, token, data) => this.#commit(id, token, data),
      abort: (id, token) => this.#abort(id, token),
    };
  }

  /**
   * Claims an id (and a slot) as a `"pending"` entry owned by this process, under a
   * short lock; resolves once the entry is written and the lock released.
   *
   * @throws {TypeError} / {RangeError} synchronously for bad options (both `id` and
   *   `base`, an empty id, a bad slot range, data that is not plain JSON).
   * @throws {IdTakenError} (`EIDTAKEN`) if `id` is taken; the message names the holder.
   * @throws {IdsExhaustedError} (`EIDSEXHAUSTED`) if every slot of the range is taken.
   * @throws {LockTimeoutError} / `AbortError` as the wait for the lock ends early.
   * @throws {RegistryFormatError} / `StateFileCorruptError` for a file that is not a
   *   registry; it is left untouched.
   *
   * @example
   * ```ts
   * const entry = await registry.reserve({ id: "web", slot: { min: 0, max: 3 }, timeoutMs: 10_000 });
   * ```
   */
  reserve(options: ReserveOptions<D> = {}): Promise<PendingEntry<D>> {
    return this.#reserve(this.#request(options));
  }

  #request(options: ReserveOptions<D>): Request<D> {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    const { id, base, slot, data, signal, timeoutMs } = options;
    if (id !== undefined && base !== undefined) {
      throw new TypeError(
        `Pass \`id\` (exactly this id) or \`base\` (the first free id from it), not both; got id ${describe(id)} and base ${describe(base)}`,
      );
    }
    if (id !== undefined) validateId(id, "id");
    if (base !== undefined) validateId(base, "base");
    if (data !== undefined) checkJsonData(data, "data");
    validateOptions({ signal, timeoutMs });
    return {
      id,
      base: base ?? "entry",
      slot: slot === undefined ? undefined : validateRange(slot),
      data: data === undefined ? null : data,
      signal,
      timeoutMs: timeoutMs ?? this.#timeoutMs,
    };
  }

  async #reserve(request: Request<D>): Promise<PendingEntry<D>> {
    let placed: StoredEntry | undefined;
    let refused: { error: unknown } | undefined;
    await this.#state.update(
      (current) => {
        const state = checkState(current, this.path);
        const dropped = dropAbandoned(state, false);
        try {
          placed = place(state, choose(state, request, this.#format, this.path), request);
        } catch (error) {
          // Refused (id taken, slots full): still write what was reclaimed, if anything.
          if (dropped.length === 0) throw error;
          refused = { error };
        }
        return state;
      },
      { signal: request.signal, timeoutMs: request.timeoutMs },
    );
    if (refused !== undefined) throw refused.error;
    return new RegistryPendingEntry(this.#ops, placed!.id, placed!.slot, placed!.token);
  }

  async #commit(
    id: string,
    token: string,
    data: { value: D } | undefined,
  ): Promise<RegistryEntry<D>> {
    let committed: RegistryEntry<D> | undefined;
    await this.#state.update(
      (current) => {
        const state = checkState(current, this.path);
        const e = state.entries.find((x) => x.id === id);
        if (e === undefined || e.token !== token) throw this.#lost(id, e);
        e.status = "active";
        if (data !== undefined) e.data = data.value;
        committed = publicEntry<D>(e);
        return state;
      },
      { timeoutMs: this.#timeoutMs },
    );
    return committed!;
  }

  async #abort(id: string, token: string): Promise<void> {
    await this.#change((state) => {
      const i = state.entries.findIndex((x) => x.id === id && x.token === token);
      if (i === -1)
        throw this.#lost(
          id,
          state.entries.find((x) => x.id === id),
        );
      // Committed already (the handle lost track of it): an abort never undoes a commit.
      if (state.entries[i]!.status === "active") return false;
      state.entries.splice(i, 1);
      return true;
    });
  }

  #lost(id: string, now: StoredEntry | undefined): ReservationLostError {
    const why =
      now === undefined
        ? "it was released (release(id), reclaim({force: true})) or reclaimed as its owner looked dead; nothing was changed"
        : `it was released or reclaimed, and the id now belongs to another claim (${describeHolder(now)}); nothing was changed`;
    return new ReservationLostError(
      id,
      why,
      now === undefined ? undefined : publicEntry(now),
      this.path,
    );
  }

  /**
   * Every entry, pending and active, in the order they were reserved. Reads without
   * the lock, so it answers at once however long others provision. Pending entries
   * of owners that are provably dead are left out, and dropped from the file if its
   * lock is free right now (else the next `reserve` drops them).
   *
   * @throws {RegistryFormatError} / `StateFileCorruptError` for a file that is not a
   *   registry.
   *
   * @example
   * ```ts
   * for (const e of await registry.list()) console.log(`${e.id}\t${e.slot ?? "-"}\t${e.status}`);
   * ```
   */
  async list(): Promise<RegistryEntry<D>[]> {
    const seen = checkState(await this.#state.read(), this.path);
    const dead = seen.entries.filter((e) => isAbandoned(e, false));
    if (dead.length === 0) return seen.entries.map((e) => publicEntry<D>(e));
    try {
      const state = await this.#drop(false, 0);
      return state.entries.map((e) => publicEntry<D>(e));
    } catch (err) {
      // Listing must not fail or wait because the file could not be cleaned up now: the
      // lock is busy, or this user may read but not write. The next reserve cleans up.
      if (!cannotWriteNow(err)) throw err;
      return seen.entries.filter((e) => !dead.includes(e)).map((e) => publicEntry<D>(e));
    }
  }

  /**
   * The entry with this id, as {@link FileRegistry.list} would show it, or `undefined`.
   *
   * @example
   * ```ts
   * const web = await registry.get("web");
   * if (web?.status === "pending") console.log(`web is being set up by pid ${web.owner.pid}`);
   * ```
   */
  get(id: string): Promise<RegistryEntry<D> | undefined> {
    validateId(id, "id");
    return this.list().then((entries) => entries.find((e) => e.id === id));
  }

  /**
   * Removes the entry with this id, pending or active, whoever owns it: the operator's
   * tool for an active entry whose resource is gone, or a pending one that is stuck.
   * A pending owner that commits or aborts afterwards gets {@link ReservationLostError}.
   * Resolves `false` (and writes nothing) if there was no such entry.
   *
   * @example
   * ```ts
   * await teardown("web");
   * await registry.release("web");
   * ```
   */
  release(id: string): Promise<boolean> {
    validateId(id, "id");
    return this.#change((state) => {
      const i = state.entries.findIndex((e) => e.id === id);
      if (i === -1) return false;
      state.entries.splice(i, 1);
      return true;
    });
  }

  /**
   * Drops abandoned pending entries now and resolves with what it dropped (`[]`, and
   * nothing written, if none). Without `force`: pending entries whose owner is provably
   * dead on this host, as `reserve` and `list` do anyway. With `force: true`, also
   * pending entries owned by other hosts, which cannot be checked from here: use it
   * when you know those hosts are down. Never active entries, never pending entries of
   * live processes on this host.
   *
   * @example
   * ```ts
   * const dropped = await registry.reclaim({ force: true });
   * for (const e of dropped) console.warn(`dropped ${e.id} of pid ${e.owner.pid}@${e.owner.hostname}`);
   * ```
   */
  reclaim(options: ReclaimOptions = {}): Promise<RegistryEntry<D>[]> {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Expected \`options\` to be an object, got ${describe(options)}`);
    }
    const force = options.force ?? false;
    if (typeof force !== "boolean") {
      throw new TypeError(`Expected \`force\` to be a boolean, got ${describe(force)}`);
    }
    let dropped: StoredEntry[] = [];
    return this.#change((state) => {
      dropped = dropAbandoned(state, force);
      return dropped.length > 0;
    }).then(() => dropped.map((e) => publicEntry<D>(e)));
  }

  /** Drops abandoned entries under the lock; resolves the state after it. */
  async #drop(force: boolean, timeoutMs: number | undefined): Promise<RegistryState> {
    try {
      return await this.#state.update(
        (current) => {
          const state = checkState(current, this.path);
          if (dropAbandoned(state, force).length === 0) throw new Unchanged(state);
          return state;
        },
        { timeoutMs },
      );
    } catch (err) {
      if (err instanceof Unchanged) return err.state;
      throw err;
    }
  }

  /** One lock section that writes only if `fn` says it changed something. */
  async #change(fn: (state: RegistryState) => boolean): Promise<boolean> {
    try {
      await this.#state.update(
        (current) => {
          const state = checkState(current, this.path);
          if (!fn(state)) throw new Unchanged(state);
          return state;
        },
        { timeoutMs: this.#timeoutMs },
      );
      return true;
    } catch (err) {
      if (err instanceof Unchanged) return false;
      throw err;
    }
  }
}

function cannotWriteNow(err: unknown): boolean {
  if (err instanceof LockTimeoutError || err instanceof AtomicWriteError) return true;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === "EACCES" || code === "EPERM" || code === "EROFS";
}
