import { InterlockError } from "../errors.js";
import type { LockInfo } from "./types.js";

/**
 * A {@link LockManager.request} combined options that the Web Locks API forbids
 * (`steal` with `ifAvailable`, `steal` with `mode: "shared"`, `signal` with `steal` or
 * `ifAvailable`, `timeoutMs` with `ifAvailable`), or named a lock with a leading `-`
 * (reserved by the specification). `name` is `"NotSupportedError"`, like the
 * `DOMException` `navigator.locks` throws, so code written for either branches alike.
 * Thrown synchronously, before anything is requested.
 *
 * @example
 * ```ts
 * try {
 *   await locks.request("deploy", { steal: true, ifAvailable: true }, run);
 * } catch (err) {
 *   if (err instanceof NotSupportedError) console.error(err.message); // says which options clash
 * }
 * ```
 */
export class NotSupportedError extends InterlockError {
  declare readonly code: "ELOCKNOTSUPPORTED";

  constructor(message: string) {
    super("ELOCKNOTSUPPORTED", message);
    this.name = "NotSupportedError";
  }
}

/**
 * `request(name, { steal: true }, cb)` found the lock held outside this thread: by
 * another process, or by another worker thread. A process cannot revoke another
 * process's kernel lock, so instead of pretending, the steal is refused and nothing was
 * revoked. `holders` lists who holds it (as {@link LockManager.query} reports them; empty
 * when the holder left no record, e.g. a program that locks the file with `flock(1)`).
 *
 * @example
 * ```ts
 * try {
 *   await locks.request("deploy", { steal: true }, run);
 * } catch (err) {
 *   if (err instanceof LockStealError) {
 *     console.error(`deploy is held by ${err.holders.map((h) => `pid ${h.pid}`).join(", ")}`);
 *   } else throw err;
 * }
 * ```
 */
export class LockStealError extends InterlockError {
  declare readonly code: "ELOCKSTEAL";
  /** The name of the lock that could not be stolen. */
  readonly lockName: string;
  /** Its holders outside this thread, as far as they could be seen. */
  readonly holders: LockInfo[];

  /**
   * @param backend `"postgres"` for `backend.locks` of interlock/postgres, which revokes
   *   the holders of its own backend only (the message says so).
   */
  constructor(lockName: string, holders: LockInfo[], backend: "file" | "postgres" = "file") {
    const why =
      backend === "file"
        ? "`steal` only revokes holders in this thread; a process cannot revoke another process's kernel lock"
        : "`steal` only revokes holders in this backend; another client's session lock cannot be revoked";
    const who =
      holders.length > 0 || backend === "file"
        ? describeHolders(holders)
        : "held by another client that left no record yet (an acquireLock hold younger than 25 ms, or a program other than interlock)";
    super(
      "ELOCKSTEAL",
      `Cannot steal the lock ${JSON.stringify(lockName)}: it is ${who}. ${why}. ` +
        "Ask the holder to stop, or wait for it with request(name, { timeoutMs }, cb)",
    );
    this.lockName = lockName;
    this.holders = holders;
  }
}

/** "held by pid 1234 (client 3f2…) for 1.2 s", or the shared holders, for messages. */
export function describeHolders(holders: LockInfo[]): string {
  if (holders.length === 0) {
    return "held outside this thread by a holder that left no record (another thread, or a program locking the file without interlock)";
  }
  const one = (h: LockInfo) => {
    const purpose = typeof h.holder?.purpose === "string" ? ` (${h.holder.purpose})` : "";
    const seconds = Math.max(0, (Date.now() - h.since) / 1000).toFixed(1);
    return `pid ${h.pid}${purpose} on ${h.hostname}, client ${h.clientId}, for ${seconds} s`;
  };
  if (holders.length === 1 && holders[0]!.mode === "exclusive")
    return `held by ${one(holders[0]!)}`;
  return `held in shared mode by ${holders.map(one).join("; ")}`;
}
