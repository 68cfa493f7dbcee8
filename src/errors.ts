/**
 * Base class of every error interlock throws on purpose. Each subclass carries a
 * stable `code` so callers can branch without parsing messages.
 *
 * @example
 * ```ts
 * try {
 *   await mutex.acquire({ timeoutMs: 100 });
 * } catch (err) {
 *   if (err instanceof InterlockError && err.code === "ELOCKTIMEOUT") retryLater();
 *   else throw err;
 * }
 * ```
 */
export class InterlockError extends Error {
  /** Stable machine-readable code, e.g. `"ELOCKTIMEOUT"`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A wait for a lock, permit or slot outlived its `timeoutMs`. The waiter was removed
 * from the queue before this was thrown, so it was never granted.
 *
 * @example
 * ```ts
 * try {
 *   using _ = await mutex.acquire({ timeoutMs: 50 });
 * } catch (err) {
 *   if (err instanceof LockTimeoutError) console.error(err.message); // "... timed out after 50 ms ..."
 * }
 * ```
 */
export class LockTimeoutError extends InterlockError {
  declare readonly code: "ELOCKTIMEOUT";
  /** The timeout that elapsed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number, message?: string, options?: ErrorOptions) {
    super(
      "ELOCKTIMEOUT",
      message ??
        `Timed out after ${timeoutMs} ms waiting for the lock; raise \`timeoutMs\` or find what holds it`,
      options,
    );
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A wait was cancelled through its `AbortSignal`. `name` is `"AbortError"` (like the DOM
 * error) and `cause` is the signal's `reason`, so `signal.reason` survives the rejection.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const p = mutex.acquire({ signal: ac.signal });
 * ac.abort(new Error("user pressed Ctrl-C"));
 * await p.catch((err) => console.log(err.name, err.cause.message)); // AbortError user pressed Ctrl-C
 * ```
 */
export class AbortError extends InterlockError {
  declare readonly code: "ABORT_ERR";

  constructor(
    reason: unknown,
    message = "The wait was aborted by its signal; nothing was acquired",
  ) {
    super("ABORT_ERR", message, { cause: reason });
    this.name = "AbortError";
  }
}

/**
 * Whether `err` carries `code`. Checked by code rather than class wherever an error may
 * come from the other build of interlock loaded in the same process (ESM and CJS each
 * have their own classes, so `instanceof` would miss).
 * @internal
 */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/**
 * A lock this process held is no longer its own: it was released already, its lock file
 * was deleted or replaced (so another holder can be in), or (for remote backends) its
 * connection or lease ended. Whatever was about to be written under it must not be.
 * `reason` says which.
 *
 * @example
 * ```ts
 * await using lock = await acquireFileLock(lockPath);
 * const next = compute(await readState());
 * lock.assertHeld(); // throws LockLostError if someone deleted lockPath meanwhile
 * await writeState(next);
 * ```
 */
export class LockLostError extends InterlockError {
  declare readonly code: "ELOCKLOST";
  /** Why: `"released"`, `"replaced"` (file locks), or the remote backend's reason. */
  readonly reason: string;
  /** The lock file or lock name. */
  readonly lock: string;
  /** The fencing token of the lost grant, where the backend knows it. */
  readonly token: number | undefined;

  constructor(
    reason: string,
    lock: string,
    message?: string,
    options?: ErrorOptions & { token?: number },
  ) {
    super(
      "ELOCKLOST",
      message ??
        (reason === "released"
          ? `The lock on ${lock} was already released by this handle; take it again before writing`
          : reason === "replaced"
            ? `The lock file ${lock} was deleted or replaced while held, so another process can hold a lock on the new file; nothing was written under the lost lock. Do not delete lock files`
            : `The lock on ${lock} was lost (${reason})`),
      options,
    );
    this.reason = reason;
    this.lock = lock;
    this.token = options?.token;
  }
}
