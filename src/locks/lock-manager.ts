import { resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { AbortError } from "../errors.js";
import { type FileLockHandle, tryAcquireFileLock } from "../file-lock/index.js";
import { describe } from "../internal/describe.js";
import { type Client, client, type NameQueue, queuesOf } from "./client.js";
import { LockStealError } from "./errors.js";
import { lockFileName } from "./lock-name.js";
import { infoOf, readEntries } from "./registry.js";
import { finish, LockRequest, park, resume, revoke, run, start } from "./request.js";
import { parseRequest } from "./request-options.js";
import { holdersOf, snapshot } from "./snapshot.js";
import type {
  Lock,
  LockGrantedCallback,
  LockManagerLike,
  LockManagerSnapshot,
  LockRequestOptions,
} from "./types.js";

/**
 * Options of {@link LockManager}: `dir`, the directory that holds its lock files (one
 * per name, created on first use and never deleted) and its registry of waiters.
 * Every process that shares a `dir` shares its locks.
 *
 * @example
 * ```ts
 * const locks = new LockManager({ dir: "/var/lock/myapp" });
 * ```
 */
export interface LockManagerOptions {
  dir: string | URL;
}

function toDir(options: unknown): string {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Expected LockManager options such as { dir: "/var/lock/myapp" }, got ${describe(options)}`,
    );
  }
  const dir = (options as { dir?: unknown }).dir;
  if (dir instanceof URL) return resolve(fileURLToPath(dir));
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(
      `Expected \`dir\` to be the directory for the lock files, e.g. "/var/lock/myapp", got ${describe(dir)}`,
    );
  }
  if (dir.includes("\0")) throw new TypeError("Expected `dir` without NUL bytes");
  return resolve(dir);
}

/**
 * Named locks shared by every process (and worker thread) that uses the same
 * directory, with the shape of the Web Locks API (`navigator.locks`): `request(name,
 * options?, callback)` holds the lock while `callback` runs, and `query()` shows who
 * holds and who waits, in all processes.
 *
 * **Guarantee:** while a callback runs with a lock, no callback anywhere on the machine
 * (any process or thread using the same `dir`) runs with a conflicting lock of that name
 * (exclusive excludes everyone, shared excludes exclusive), except after a `steal` in
 * this thread revoked it; each grant's `token` is strictly greater than every earlier
 * grant's of that name, across processes and restarts; and a lock ends with its holder's
 * process, however it ends.
 *
 * How it works: each name maps to a lock file `<dir>/<encoded name>.lock` (any string is
 * a name: `a/b`, `..`, non-ASCII and very long names are encoded to distinct safe file
 * names; very long ones become a readable prefix plus a hash), locked with
 * {@link acquireFileLock}. An exclusive holder's record in that file carries the
 * request's id (client id and sequence number) and `holder` fields; waiters (once they
 * have waited a turn of the event loop) and shared holders write a small entry in
 * `<dir>/.registry/`, removed when they finish, ignored and cleaned up once their
 * process is gone. An uncontended exclusive request writes nothing beyond what a file
 * lock writes.
 *
 * **Fairness:** FIFO among the requests of one thread, per name (a steal goes first);
 * across processes and threads, whoever the kernel grants the lock to next, no order.
 *
 * **Cancellation:** `signal` and `timeoutMs` bound the wait; an aborted or timed-out
 * request is never granted and its callback never runs. Once granted, the lock is held
 * until the callback's promise settles; `signal` no longer has any effect.
 *
 * **Stealing:** `{ steal: true }` revokes the holders of the name *in this thread*
 * (their requests reject with an `AbortError`, their callbacks keep running without the
 * lock, and their tokens are older than the stealer's) and goes ahead of this thread's
 * waiters. A process cannot revoke another's kernel lock: when the lock is held by
 * another process or thread, the steal rejects with {@link LockStealError} naming the
 * holder, and nothing is revoked.
 *
 * @example
 * ```ts
 * import { LockManager } from "interlock";
 *
 * const locks = new LockManager({ dir: "/var/lock/myapp" });
 * await locks.request("deploy", { timeoutMs: 60_000, holder: { purpose: "deploy" } }, async (lock) => {
 *   await deploy({ fence: lock.token });
 * });
 * const { held, pending } = await locks.query(); // every process's view
 * ```
 */
export class LockManager implements LockManagerLike {
  /** Absolute path of the directory of lock files. */
  readonly dir: string;
  readonly #prefix: string;
  // This thread's client and its queues of `dir`, looked up once: the request path is hot.
  readonly #client: Client;
  readonly #queues: Map<string, NameQueue>;

  /**
   * @throws {TypeError} synchronously, when `dir` is missing, empty, or not a string or file URL.
   */
  constructor(options: LockManagerOptions) {
    this.dir = toDir(options);
    this.#prefix = this.dir.endsWith(sep) ? this.dir : this.dir + sep;
    this.#client = client();
    this.#queues = queuesOf(this.#client, this.dir);
  }

  /** This thread's client id, as `query()` reports it for this thread's requests. */
  get clientId(): string {
    return this.#client.clientId;
  }

  /**
   * Requests the lock `name`, runs `callback` with it, and releases it once the promise
   * `callback` returns settles. Resolves or rejects as that promise does.
   *
   * With `ifAvailable`, `callback` runs with `null` at once if the lock is held or waited
   * for; with `steal`, see the class notes.
   *
   * @param name Any string, except one starting with `-` (reserved, as in the Web Locks API).
   * @param options `mode`, `ifAvailable`, `steal`, `signal`, `timeoutMs`, `holder`.
   * @param callback Runs while the lock is held; gets `{ name, mode, token }` (or `null`).
   * @throws {TypeError} synchronously: `name` not a string, `callback` not a function,
   *   bad `mode`, `holder`, flags or `signal`.
   * @throws {RangeError} synchronously: bad `timeoutMs`, too long a `name` or `holder`.
   * @throws {NotSupportedError} synchronously: a name starting with `-`, or options the
   *   Web Locks API forbids together (`steal` + `ifAvailable`, `steal` + shared,
   *   `signal` + `steal`/`ifAvailable`), or `timeoutMs` + `ifAvailable`.
   * @throws {AbortError} (rejection) when `signal` aborts the wait (`cause` is its
   *   reason), or when a steal in this thread revoked the lock.
   * @throws {LockTimeoutError} (rejection) when `timeoutMs` elapses; names the holders.
   * @throws {LockStealError} (rejection) when `steal` finds the lock held elsewhere.
   * @throws whatever `callback` throws or rejects with; the lock is released first.
   *
   * @example
   * ```ts
   * const count = await locks.request("counter", async () => {
   *   const n = Number(await readFile(path, "utf8")) + 1;
   *   await writeFile(path, String(n));
   *   return n;
   * });
   * const ran = await locks.request("nightly", { ifAvailable: true }, async (lock) => {
   *   if (lock === null) return false; // another process runs it
   *   await nightly();
   *   return true;
   * });
   * ```
   */
  request<T>(name: string, callback: LockGrantedCallback<T, Lock>): Promise<Awaited<T>>;
  request<T>(
    name: string,
    options: LockRequestOptions & { ifAvailable?: false | undefined },
    callback: LockGrantedCallback<T, Lock>,
  ): Promise<Awaited<T>>;
  request<T>(
    name: string,
    options: LockRequestOptions,
    callback: LockGrantedCallback<T, Lock | null>,
  ): Promise<Awaited<T>>;
  request<T>(
    name: string,
    optionsOrCallback: unknown,
    maybeCallback?: unknown,
  ): Promise<Awaited<T>> {
    const { options: o, callback } = parseRequest(name, optionsOrCallback, maybeCallback);
    let q = this.#queues.get(name);
    if (q === undefined) {
      const file = lockFileName(name);
      q = {
        dir: this.dir,
        name,
        path: this.#prefix + file,
        hashed: file.includes("~"),
        requests: new Set(),
      };
      this.#queues.set(name, q);
    }
    const req = new LockRequest(this.#client, q, o.mode, o.signal, o.timeoutMs, o.holder);
    q.requests.add(req);
    const cb = callback as (lock: Lock | null) => T | PromiseLike<T>;
    if (o.steal) return steal(req, cb);
    if (o.ifAvailable) {
      // The engine checks this thread's queue and the kernel now, before any await.
      try {
        req.attempt = tryAcquireFileLock(q.path, {
          mode: o.mode,
          holder: req.record,
        }) as Promise<FileLockHandle>;
      } catch (err) {
        finish(req);
        throw err;
      }
      return run(req, cb, () => cb(null));
    }
    if (o.signal?.aborted) {
      finish(req);
      return Promise.reject(new AbortError(o.signal.reason));
    }
    start(req);
    return run(req, cb);
  }

  /**
   * Who holds and who waits for the locks of this directory, in every process and
   * thread that uses it: `{ held, pending }`, each entry `{ name, mode, clientId, pid,
   * hostname, since, holder? }`, oldest first. A snapshot: it may be stale by the time
   * you read it. Entries of processes that are gone never show (same host: checked with
   * {@link isProcessAlive}; other hosts sharing the directory cannot be checked).
   *
   * Cost: a directory listing, one non-blocking probe per lock file (names are never
   * deleted, so this grows with the number of names ever used), and one small read per
   * waiter or shared holder elsewhere. The probe holds a shared lock for microseconds: an
   * `ifAvailable` request racing it in that instant may be told the lock is busy.
   *
   * @example
   * ```ts
   * const { held, pending } = await locks.query();
   * for (const w of pending.filter((p) => p.name === "index")) {
   *   console.log(`pid ${w.pid} waits for index since ${new Date(w.since).toISOString()}`);
   * }
   * ```
   */
  query(): Promise<LockManagerSnapshot> {
    return snapshot(this.dir, this.#client);
  }
}

async function steal<T>(
  req: LockRequest,
  callback: (lock: Lock) => T | PromiseLike<T>,
): Promise<Awaited<T>> {
  const { q } = req;
  try {
    // Grants the engine has made but this thread has not observed yet (their callbacks
    // are a few microtasks away) must count as holders: decide after a turn of the loop.
    await new Promise((resolve) => setImmediate(resolve));
    const victims = [...q.requests].filter(
      (r) => r !== req && r.state === "held" && r.stolen === undefined,
    );
    if (victims.length === 0) {
      // Nothing of ours to revoke: take it if no other process or thread holds it,
      // ahead of our own waiters.
      const parked = park(q, req);
      req.attempt = tryAcquireFileLock(q.path, { holder: req.record }) as Promise<FileLockHandle>;
      resume(parked);
      return await run(req, callback, async () => {
        throw new LockStealError(q.name, await holdersOf(q.dir, q.name, req.client));
      });
    }
    if (victims.some((v) => v.mode === "shared")) {
      // Shared holders elsewhere would keep the kernel lock after ours are revoked:
      // refuse before revoking anything.
      const elsewhere = readEntries(q.dir, req.client.clientId, new Map()).filter(
        (e) => e.name === q.name && e.state === "held",
      );
      if (elsewhere.length > 0) throw new LockStealError(q.name, elsewhere.map(infoOf));
    }
    const parked = park(q, req);
    for (const v of victims) revoke(v, `client ${req.client.clientId}, request ${req.seq}`);
    start(req, false);
    resume(parked);
  } catch (err) {
    finish(req);
    throw err;
  }
  return await run(req, callback);
}
